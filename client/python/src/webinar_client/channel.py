"""Where and how to connect: a local stack's `stack.json`, or an endpoint with mTLS files or a
bearer token. `ChannelConfig` builds both a `grpc.Channel` and a `grpc.aio.Channel`, so the
sync and async clients share one way of configuring.
"""

from __future__ import annotations

import json
import os
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import grpc
import grpc.aio

StrPath = str | os.PathLike[str]

# Reconnect quickly after a server restart; gRPC's default back-off grows to two minutes.
DEFAULT_OPTIONS: tuple[tuple[str, Any], ...] = (
    ("grpc.initial_reconnect_backoff_ms", 200),
    ("grpc.min_reconnect_backoff_ms", 200),
    ("grpc.max_reconnect_backoff_ms", 5000),
)


def default_stack_path() -> Path:
    """`WEBINAR_STACK_JSON`, else `.state/stack.json` under the current directory."""
    configured = os.environ.get("WEBINAR_STACK_JSON")
    return Path(configured) if configured else Path(".state") / "stack.json"


def load_stack(path: StrPath | None = None) -> dict[str, Any]:
    """Reads a `stack.json` written by `cargo xtask up`."""
    with open(path or default_stack_path(), encoding="utf-8") as handle:
        stack: dict[str, Any] = json.load(handle)
    return stack


@dataclass(frozen=True)
class ChannelConfig:
    """How to reach the service. Secrets (keys, tokens) are kept out of `repr`."""

    target: str
    """`host:port` (an `https://` prefix is accepted and dropped)."""
    root_certificates: bytes | None = field(default=None, repr=False)
    """PEM of the CA that signs the server; None means the system's roots."""
    private_key: bytes | None = field(default=None, repr=False)
    certificate_chain: bytes | None = field(default=None, repr=False)
    bearer_token: str | None = field(default=None, repr=False)
    server_name: str | None = None
    """Name to check the server certificate against, when it differs from the target host."""
    options: tuple[tuple[str, Any], ...] = DEFAULT_OPTIONS

    @classmethod
    def from_stack(
        cls, path: StrPath | None = None, identity: str | None = None
    ) -> ChannelConfig:
        """The integration service of a local stack, as `identity` (default: the demo CRM)."""
        stack = load_stack(path)
        ident = stack["identities"][identity or stack["demo"]["identity"]]
        service = stack["integrationservice"]
        return cls(
            target=service["endpoint"],
            root_certificates=Path(stack["ca_cert"]).read_bytes(),
            private_key=Path(ident["key"]).read_bytes(),
            certificate_chain=Path(ident["cert"]).read_bytes(),
            server_name=service.get("server_name"),
        )

    @classmethod
    def from_files(
        cls,
        endpoint: str,
        *,
        ca_cert: StrPath | None = None,
        client_cert: StrPath | None = None,
        client_key: StrPath | None = None,
        bearer_token: str | None = None,
        server_name: str | None = None,
    ) -> ChannelConfig:
        """An endpoint with PEM files for mTLS (`client_cert` + `client_key`) and/or a JWT."""
        if (client_cert is None) != (client_key is None):
            raise ValueError("client_cert and client_key go together")
        return cls(
            target=endpoint,
            root_certificates=Path(ca_cert).read_bytes() if ca_cert else None,
            private_key=Path(client_key).read_bytes() if client_key else None,
            certificate_chain=Path(client_cert).read_bytes() if client_cert else None,
            bearer_token=bearer_token,
            server_name=server_name,
        )

    def _address(self) -> str:
        return self.target.removeprefix("https://").rstrip("/")

    def _credentials(self) -> grpc.ChannelCredentials:
        tls = grpc.ssl_channel_credentials(
            root_certificates=self.root_certificates,
            private_key=self.private_key,
            certificate_chain=self.certificate_chain,
        )
        if self.bearer_token is None:
            return tls
        token = grpc.access_token_call_credentials(self.bearer_token)
        return grpc.composite_channel_credentials(tls, token)

    def _options(self) -> list[tuple[str, Any]]:
        options = list(self.options)
        if self.server_name:
            options.append(("grpc.ssl_target_name_override", self.server_name))
        return options

    def channel(self) -> grpc.Channel:
        """A blocking channel; connects on the first call."""
        return grpc.secure_channel(self._address(), self._credentials(), self._options())

    def aio_channel(self) -> grpc.aio.Channel:
        """An asyncio channel; connects on the first call."""
        return grpc.aio.secure_channel(self._address(), self._credentials(), self._options())
