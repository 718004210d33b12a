"""Hatchling build hook: generates the gRPC modules and their type stubs into the wheel.

The `.proto` files are copied under `webinar_client/pb/` (their `import` lines rewritten to
match) before protoc runs, so the generated modules live inside this package
(`webinar_client.pb.webinar.v1.registration_pb2`) instead of claiming top-level `webinar` and
`keyservice` packages; the protobuf package names (`webinar.v1`), and so the wire contract, do
not change. Outputs: `_pb2.py` and `_pb2_grpc.py` (grpcio-tools) and `.pyi` stubs for both
(mypy-protobuf, which types the grpc.aio stubs too).
"""

from __future__ import annotations

import re
import shutil
import sys
import sysconfig
import tempfile
from importlib import resources
from pathlib import Path
from typing import Any

from hatchling.builders.hooks.plugin.interface import BuildHookInterface

PACKAGES = ("webinar", "keyservice")
PREFIX = "webinar_client/pb"
IMPORT = re.compile(r'^import "(%s)/' % "|".join(PACKAGES), re.MULTILINE)


def _plugin(name: str) -> str:
    """A protoc plugin installed into the build environment by mypy-protobuf."""
    for folder in (Path(sys.executable).parent, Path(sysconfig.get_path("scripts"))):
        if (folder / name).is_file():
            return str(folder / name)
    found = shutil.which(name)
    if found is None:
        raise RuntimeError(f"{name} not found; is mypy-protobuf in the build requirements?")
    return found


class GenerateStubs(BuildHookInterface):  # type: ignore[type-arg]
    """Runs protoc before hatchling collects the wheel's files."""

    PLUGIN_NAME = "custom"

    def _protos(self) -> Path:
        root = Path(self.root)
        # An sdist carries ./proto; a checkout has the contract at the repository root.
        for candidate in (root / "proto", root.parents[1] / "proto"):
            if all((candidate / p / "v1").is_dir() for p in PACKAGES):
                return candidate
        raise RuntimeError(f"no proto/{{webinar,keyservice}}/v1 near {root}")

    def initialize(self, version: str, build_data: dict[str, Any]) -> None:
        if self.target_name != "wheel":
            return
        from grpc_tools import protoc

        self._tmp = tempfile.mkdtemp(prefix="webinar-client-gen-")
        src = Path(self._tmp) / "src"
        out = Path(self._tmp) / "out"
        files = []
        for package in PACKAGES:
            for proto in sorted((self._protos() / package / "v1").glob("*.proto")):
                target = src / PREFIX / package / "v1" / proto.name
                target.parent.mkdir(parents=True, exist_ok=True)
                text = IMPORT.sub(lambda m: f'import "{PREFIX}/{m.group(1)}/', proto.read_text())
                target.write_text(text)
                files.append(str(target.relative_to(src)))
        out.mkdir()
        well_known = resources.files("grpc_tools") / "_proto"
        args = [
            "grpc_tools.protoc",
            f"-I{src}",
            f"-I{well_known}",
            f"--python_out={out}",
            f"--grpc_python_out={out}",
            f"--plugin=protoc-gen-mypy={_plugin('protoc-gen-mypy')}",
            f"--plugin=protoc-gen-mypy_grpc={_plugin('protoc-gen-mypy_grpc')}",
            f"--mypy_out={out}",
            f"--mypy_grpc_out={out}",
            *files,
        ]
        if protoc.main(args) != 0:
            raise RuntimeError("protoc failed on " + " ".join(files))
        generated = out / PREFIX
        for folder in [generated, *(p for p in generated.rglob("*") if p.is_dir())]:
            (folder / "__init__.py").touch()
        build_data["force_include"][str(generated)] = PREFIX

    def finalize(self, version: str, build_data: dict[str, Any], artifact_path: str) -> None:
        tmp = getattr(self, "_tmp", None)
        if tmp:
            shutil.rmtree(tmp, ignore_errors=True)
