"""Python client of the webinar integration service, generated from the repository's protos.

``connect()`` builds an mTLS channel from a local stack's ``stack.json`` (written by
``cargo xtask up``); the generated messages and stubs are importable as ``webinar.v1`` and
``keyservice.v1`` once this package is imported (see ``build.py`` for the code generation).
"""

from __future__ import annotations

import json
import os
import sys
from pathlib import Path
from typing import Any

import grpc

from . import build

if not (build.GENERATED / "webinar" / "v1" / "webinar_pb2.py").exists():
    build.generate()
if str(build.GENERATED) not in sys.path:
    sys.path.insert(0, str(build.GENERATED))

# The generated modules, importable once the path is set.
from webinar.v1 import (  # noqa: E402
    metrics_pb2,
    metrics_pb2_grpc,
    provider_config_pb2,
    provider_config_pb2_grpc,
    registration_pb2,
    registration_pb2_grpc,
    webinar_pb2,
    webinar_pb2_grpc,
)

__all__ = [
    "Client",
    "connect",
    "load_stack",
    "metrics_pb2",
    "provider_config_pb2",
    "registration_pb2",
    "webinar_pb2",
]


def default_stack_path() -> Path:
    """``WEBINAR_STACK_JSON`` or ``.state/stack.json`` of the repository."""
    configured = os.environ.get("WEBINAR_STACK_JSON")
    if configured:
        return Path(configured)
    return Path(__file__).resolve().parents[3] / ".state" / "stack.json"


def load_stack(path: str | os.PathLike[str] | None = None) -> dict[str, Any]:
    """Reads a ``stack.json``."""
    with open(path or default_stack_path(), encoding="utf-8") as handle:
        return json.load(handle)


def secure_channel(
    stack: dict[str, Any], service: str = "integrationservice", identity: str | None = None
) -> grpc.Channel:
    """An mTLS channel to ``service`` as ``identity`` (default: the demo CRM identity)."""
    ident = stack["identities"][identity or stack["demo"]["identity"]]
    endpoint = stack[service]["endpoint"]
    credentials = grpc.ssl_channel_credentials(
        root_certificates=Path(stack["ca_cert"]).read_bytes(),
        private_key=Path(ident["key"]).read_bytes(),
        certificate_chain=Path(ident["cert"]).read_bytes(),
    )
    # The development certificates are issued for `localhost`; we dial 127.0.0.1.
    options = [("grpc.ssl_target_name_override", stack[service]["server_name"])]
    return grpc.secure_channel(endpoint.removeprefix("https://"), credentials, options)


class Client:
    """The four services of ``webinar.v1`` on one channel, for one tenant."""

    def __init__(self, channel: grpc.Channel, tenant: str) -> None:
        self.channel = channel
        self.tenant = tenant
        self.parent = f"tenants/{tenant}"
        self.credentials = provider_config_pb2_grpc.ProviderConfigServiceStub(channel)
        self.webinars = webinar_pb2_grpc.WebinarServiceStub(channel)
        self.registrations = registration_pb2_grpc.RegistrationServiceStub(channel)
        self.metrics = metrics_pb2_grpc.MetricsServiceStub(channel)

    def close(self) -> None:
        self.channel.close()


def connect(stack_path: str | os.PathLike[str] | None = None, identity: str | None = None) -> Client:
    """A client for the demo tenant of the local stack."""
    stack = load_stack(stack_path)
    return Client(secure_channel(stack, identity=identity), stack["demo"]["tenant"])
