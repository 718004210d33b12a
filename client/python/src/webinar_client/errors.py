"""Errors as exceptions: the gRPC status code, the message, and the `google.rpc` details the
service sends (`BadRequest` field violations on INVALID_ARGUMENT, `ErrorInfo` reason on
FAILED_PRECONDITION, PERMISSION_DENIED and UNAUTHENTICATED), read from the
`grpc-status-details-bin` trailer. Switch on `reason` or the subclass, never on the message.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from typing import Any

import grpc
# googleapis-common-protos ships .pyi files but no py.typed marker.
from google.rpc import error_details_pb2, status_pb2  # type: ignore[import-untyped, unused-ignore]

DETAILS_KEY = "grpc-status-details-bin"


@dataclass(frozen=True)
class FieldViolation:
    """One invalid field: its path in the request (e.g. `registration.email`) and why."""

    field: str
    description: str


class WebinarError(Exception):
    """A call failed. Subclasses name the common codes."""

    def __init__(
        self,
        code: grpc.StatusCode,
        message: str,
        *,
        reason: str = "",
        domain: str = "",
        metadata: dict[str, str] | None = None,
        field_violations: tuple[FieldViolation, ...] = (),
    ) -> None:
        super().__init__(f"{code.name}: {message}" + (f" ({reason})" if reason else ""))
        self.code = code
        self.message = message
        self.reason = reason
        """`ErrorInfo.reason`, e.g. `INTEGRATION_DISABLED`; empty when none was sent."""
        self.domain = domain
        self.metadata = metadata or {}
        self.field_violations = field_violations

    def violation(self, field: str) -> FieldViolation | None:
        """The violation of `field`, if any."""
        return next((v for v in self.field_violations if v.field == field), None)


class InvalidArgument(WebinarError):
    """INVALID_ARGUMENT: `field_violations` names each bad field."""


class NotFound(WebinarError):
    """NOT_FOUND."""


class AlreadyExists(WebinarError):
    """ALREADY_EXISTS."""


class FailedPrecondition(WebinarError):
    """FAILED_PRECONDITION: `reason` says which (e.g. `INTEGRATION_DISABLED`)."""


class PermissionDenied(WebinarError):
    """PERMISSION_DENIED (e.g. `TENANT_MISMATCH`)."""


class Unauthenticated(WebinarError):
    """UNAUTHENTICATED: no valid certificate or token (e.g. `INVALID_TOKEN`)."""


class Unavailable(WebinarError):
    """UNAVAILABLE after the retries the policy allows."""


class DeadlineExceeded(WebinarError):
    """DEADLINE_EXCEEDED: the call's deadline passed (this client's timer or the server's)."""


_CLASSES: dict[grpc.StatusCode, type[WebinarError]] = {
    grpc.StatusCode.INVALID_ARGUMENT: InvalidArgument,
    grpc.StatusCode.NOT_FOUND: NotFound,
    grpc.StatusCode.ALREADY_EXISTS: AlreadyExists,
    grpc.StatusCode.FAILED_PRECONDITION: FailedPrecondition,
    grpc.StatusCode.PERMISSION_DENIED: PermissionDenied,
    grpc.StatusCode.UNAUTHENTICATED: Unauthenticated,
    grpc.StatusCode.UNAVAILABLE: Unavailable,
    grpc.StatusCode.DEADLINE_EXCEEDED: DeadlineExceeded,
}


def status_code(error: BaseException) -> grpc.StatusCode | None:
    """The code of a sync or asyncio `RpcError`, None for anything else."""
    code = getattr(error, "code", None)
    if callable(code):
        value = code()
        if isinstance(value, grpc.StatusCode):
            return value
    return None


def _details(trailers: Iterable[Any] | None) -> Any:
    for key, value in trailers or ():
        if key == DETAILS_KEY and isinstance(value, bytes):
            return status_pb2.Status.FromString(value)
    return None


def from_rpc_error(error: grpc.RpcError) -> WebinarError:
    """The exception for a failed call (sync `grpc.RpcError` or `grpc.aio.AioRpcError`)."""
    code = status_code(error) or grpc.StatusCode.UNKNOWN
    details = getattr(error, "details", None)
    message = str(details() or "") if callable(details) else str(error)
    trailing = getattr(error, "trailing_metadata", None)
    status = _details(trailing() if callable(trailing) else None)
    reason, domain, metadata = "", "", {}
    violations: list[FieldViolation] = []
    for detail in status.details if status else ():
        if detail.Is(error_details_pb2.BadRequest.DESCRIPTOR):
            bad = error_details_pb2.BadRequest()
            detail.Unpack(bad)
            violations += [FieldViolation(v.field, v.description) for v in bad.field_violations]
        elif detail.Is(error_details_pb2.ErrorInfo.DESCRIPTOR):
            info = error_details_pb2.ErrorInfo()
            detail.Unpack(info)
            reason, domain, metadata = info.reason, info.domain, dict(info.metadata)
    cls = _CLASSES.get(code, WebinarError)
    return cls(
        code,
        message,
        reason=reason,
        domain=domain,
        metadata=metadata,
        field_violations=tuple(violations),
    )
