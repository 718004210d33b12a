"""Generates the Python modules of the gRPC contract from ``proto/`` with grpcio-tools.

The generated code is not checked in: it is produced into ``webinar_client/_generated`` the
first time the package is imported (or by ``python -m webinar_client.build``), so it always
matches the ``.proto`` files of this checkout. Set ``WEBINAR_PROTO_DIR`` to use another copy of
the protos (e.g. when this package is vendored elsewhere).
"""

from __future__ import annotations

import os
import sys
from importlib import resources
from pathlib import Path

GENERATED = Path(__file__).resolve().parent / "_generated"


def proto_dir() -> Path:
    """The folder holding ``webinar/v1`` and ``keyservice/v1``."""
    configured = os.environ.get("WEBINAR_PROTO_DIR")
    if configured:
        return Path(configured).resolve()
    # client/python/webinar_client/build.py -> repository root / proto
    return Path(__file__).resolve().parents[3] / "proto"


def generate(out: Path = GENERATED) -> Path:
    """Runs protoc (bundled with grpcio-tools) on every package of the contract."""
    from grpc_tools import protoc  # imported here: only needed to build

    root = proto_dir()
    files = sorted(str(p) for p in root.glob("*/v1/*.proto"))
    if not files:
        raise RuntimeError(f"no .proto files under {root}; set WEBINAR_PROTO_DIR")
    out.mkdir(parents=True, exist_ok=True)
    well_known = resources.files("grpc_tools") / "_proto"
    args = [
        "grpc_tools.protoc",
        f"-I{root}",
        f"-I{well_known}",
        f"--python_out={out}",
        f"--pyi_out={out}",
        f"--grpc_python_out={out}",
        *files,
    ]
    if protoc.main(args) != 0:
        raise RuntimeError("protoc failed on " + " ".join(files))
    return out


if __name__ == "__main__":
    print(generate())
    sys.exit(0)
