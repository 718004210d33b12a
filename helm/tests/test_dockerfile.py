"""The Dockerfile the chart's images come from: one target per image, each running as a
numeric non-root user, on a runtime without a shell, with no HEALTHCHECK (hadolint runs in
`cargo xtask lint`). No Docker engine here, so this reads the file."""

from __future__ import annotations

import pathlib
import re

DOCKERFILE = pathlib.Path(__file__).resolve().parents[2] / "Dockerfile"


def stages() -> dict[str, list[str]]:
    result: dict[str, list[str]] = {}
    current = None
    for line in DOCKERFILE.read_text().splitlines():
        match = re.match(r"FROM\s+(\S+)(?:\s+AS\s+(\S+))?", line, re.I)
        if match:
            current = match.group(2) or match.group(1)
            result[current] = [line]
        elif current:
            result[current].append(line)
    return result


def test_one_target_per_image_on_the_hardened_runtime():
    s = stages()
    for target in ("keyservice", "integrationservice", "on24sim"):
        assert s[target][0].split()[1] == "runtime", target
        entry = [l for l in s[target] if l.startswith("ENTRYPOINT")]
        assert entry == [f'ENTRYPOINT ["/usr/local/bin/{target}"]'], target
    runtime = s["runtime"]
    assert "distroless" in runtime[0] and ":nonroot" in runtime[0]
    (user,) = [l for l in runtime if l.startswith("USER")]
    uid, gid = user.split()[1].split(":")
    assert int(uid) >= 10000 and int(gid) >= 10000, "numeric, non-root, matches the chart's 65532"


def test_no_healthcheck_and_no_shell_form_entrypoints():
    text = DOCKERFILE.read_text()
    assert not re.search(r"^HEALTHCHECK", text, re.M)
    for line in re.findall(r"^(?:ENTRYPOINT|CMD) .*$", text, re.M):
        assert line.split(" ", 1)[1].startswith("["), f"exec form needs no shell: {line}"
