"""Typed Python client of the webinar integration service (`webinar.v1`), sync and asyncio.

    import webinar_client as wc

    with wc.Client.from_stack() as client:                  # a local `cargo xtask up`
        webinar = client.create_webinar(wc.webinar_pb2.Webinar(title="Launch", ...))
        for registration in client.list_registrations(webinar.name):
            ...
        for change in client.watch_changes():              # resumes after disconnects
            ...

`webinar_client.aio.AsyncClient` is the same over `grpc.aio`. The generated messages and stubs
are `webinar_client.pb.webinar.v1.*_pb2` (re-exported here); errors are `WebinarError` and its
subclasses, carrying the `google.rpc` field violations and reason.
"""

from webinar_client.channel import (
    ChannelConfig,
    default_stack_path,
    load_stack,
)
from webinar_client.client import ChangeFeed, Client
from webinar_client.errors import (
    AlreadyExists,
    DeadlineExceeded,
    FailedPrecondition,
    FieldViolation,
    InvalidArgument,
    NotFound,
    PermissionDenied,
    Unauthenticated,
    Unavailable,
    WebinarError,
)
from webinar_client.pb.webinar.v1 import (
    errors_pb2,
    metrics_pb2,
    provider_config_pb2,
    registration_pb2,
    webinar_pb2,
)
from webinar_client.retry import RetryPolicy

__all__ = [
    "AlreadyExists",
    "ChangeFeed",
    "ChannelConfig",
    "Client",
    "DeadlineExceeded",
    "FailedPrecondition",
    "FieldViolation",
    "InvalidArgument",
    "NotFound",
    "PermissionDenied",
    "RetryPolicy",
    "Unauthenticated",
    "Unavailable",
    "WebinarError",
    "default_stack_path",
    "errors_pb2",
    "load_stack",
    "metrics_pb2",
    "provider_config_pb2",
    "registration_pb2",
    "webinar_pb2",
]
