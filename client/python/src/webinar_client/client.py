"""The blocking client: one channel, one tenant, every call with a deadline, idempotent calls
retried on UNAVAILABLE, list calls as iterators over all pages, and the change feed as an
iterator that reconnects and resumes from its cursor.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Iterator
from types import TracebackType
from typing import Any, TypeVar

import grpc

from webinar_client import names
from webinar_client.channel import ChannelConfig, StrPath
from webinar_client.errors import from_rpc_error, status_code
from webinar_client.feed import RECONNECT_BACKOFF, FeedState
from webinar_client.pb.webinar.v1 import (
    metrics_pb2,
    metrics_pb2_grpc,
    provider_config_pb2,
    provider_config_pb2_grpc,
    registration_pb2,
    registration_pb2_grpc,
    webinar_pb2,
    webinar_pb2_grpc,
)
from webinar_client.retry import NO_RETRY, RetryPolicy

Req = TypeVar("Req")
Resp = TypeVar("Resp")
Item = TypeVar("Item")

DEFAULT_TIMEOUT = 30.0


class Client:
    """The `webinar.v1` services for one tenant over one blocking channel.

    The raw stubs are `credentials`, `webinars`, `registrations` and `metrics`; the methods
    below wrap them with deadlines, retries and `WebinarError` exceptions.
    """

    def __init__(
        self,
        channel: grpc.Channel,
        tenant: str,
        *,
        timeout: float = DEFAULT_TIMEOUT,
        retry: RetryPolicy = RetryPolicy(),
    ) -> None:
        self.channel = channel
        self.parent = names.tenant(tenant)
        self.timeout = timeout
        """Deadline of each call, in seconds."""
        self.retry = retry
        self.credentials = provider_config_pb2_grpc.ProviderConfigServiceStub(channel)
        self.webinars = webinar_pb2_grpc.WebinarServiceStub(channel)
        self.registrations = registration_pb2_grpc.RegistrationServiceStub(channel)
        self.metrics = metrics_pb2_grpc.MetricsServiceStub(channel)

    @classmethod
    def from_stack(
        cls,
        path: StrPath | None = None,
        *,
        identity: str | None = None,
        tenant: str | None = None,
        **kwargs: Any,
    ) -> Client:
        """A client of a local stack (`cargo xtask up`), for its demo tenant by default."""
        from webinar_client.channel import load_stack

        stack = load_stack(path)
        config = ChannelConfig.from_stack(path, identity)
        return cls(config.channel(), tenant or stack["demo"]["tenant"], **kwargs)

    @classmethod
    def connect(cls, config: ChannelConfig, tenant: str, **kwargs: Any) -> Client:
        """A client from explicit settings (`ChannelConfig.from_files(...)`)."""
        return cls(config.channel(), tenant, **kwargs)

    def close(self) -> None:
        self.channel.close()

    def __enter__(self) -> Client:
        return self

    def __exit__(
        self,
        kind: type[BaseException] | None,
        value: BaseException | None,
        traceback: TracebackType | None,
    ) -> None:
        self.close()

    def call(
        self,
        method: grpc.UnaryUnaryMultiCallable[Req, Resp],
        request: Req,
        *,
        idempotent: bool = True,
        timeout: float | None = None,
    ) -> Resp:
        """Calls a unary method of any stub with this client's deadline, retries and errors."""
        policy = self.retry if idempotent else NO_RETRY
        attempt = 0
        while True:
            attempt += 1
            try:
                return method(request, timeout=timeout or self.timeout)
            except grpc.RpcError as error:
                if policy.should_retry(status_code(error), attempt):
                    time.sleep(policy.backoff(attempt - 1))
                    continue
                raise from_rpc_error(error) from None

    def _pages(self, fetch: Callable[[str], tuple[list[Item], str]]) -> Iterator[Item]:
        token = ""
        while True:
            items, token = fetch(token)
            yield from items
            if not token:
                return

    # ON24 credentials

    def put_on24_credentials(
        self, credentials: provider_config_pb2.On24Credentials, *, live_check: bool = False
    ) -> provider_config_pb2.On24Credentials:
        """Stores (or replaces) the tenant's ON24 credentials; `name` is filled in."""
        credentials.name = credentials.name or f"{self.parent}/on24Credentials"
        request = provider_config_pb2.PutOn24CredentialsRequest(
            on24_credentials=credentials, live_check=live_check
        )
        return self.call(self.credentials.PutOn24Credentials, request).on24_credentials

    def get_on24_credentials(self) -> provider_config_pb2.On24Credentials:
        request = provider_config_pb2.GetOn24CredentialsRequest(name=f"{self.parent}/on24Credentials")
        return self.call(self.credentials.GetOn24Credentials, request).on24_credentials

    # Webinars

    def create_webinar(
        self, webinar: webinar_pb2.Webinar, *, request_id: str | None = None
    ) -> webinar_pb2.Webinar:
        request = webinar_pb2.CreateWebinarRequest(
            parent=self.parent, webinar=webinar, request_id=names.request_id(request_id)
        )
        return self.call(self.webinars.CreateWebinar, request).webinar

    def get_webinar(self, webinar: str) -> webinar_pb2.Webinar:
        request = webinar_pb2.GetWebinarRequest(name=names.webinar(self.parent, webinar))
        return self.call(self.webinars.GetWebinar, request).webinar

    def list_webinars(
        self, *, page_size: int = 100, show_unlinked: bool = False
    ) -> Iterator[webinar_pb2.Webinar]:
        """Every webinar of the tenant, fetching pages as the iteration needs them."""

        def fetch(token: str) -> tuple[list[webinar_pb2.Webinar], str]:
            request = webinar_pb2.ListWebinarsRequest(
                parent=self.parent, page_size=page_size, page_token=token,
                show_unlinked=show_unlinked,
            )
            page = self.call(self.webinars.ListWebinars, request)
            return list(page.webinars), page.next_page_token

        return self._pages(fetch)

    # Registrations

    def create_registration(
        self,
        webinar: str,
        registration: registration_pb2.Registration,
        *,
        request_id: str | None = None,
    ) -> registration_pb2.CreateRegistrationResponse:
        """Registers one attendee; `created` is False if the email was already registered."""
        request = registration_pb2.CreateRegistrationRequest(
            parent=names.webinar(self.parent, webinar),
            registration=registration,
            request_id=names.request_id(request_id),
        )
        return self.call(self.registrations.CreateRegistration, request)

    def get_registration(self, name: str) -> registration_pb2.Registration:
        request = registration_pb2.GetRegistrationRequest(name=name)
        return self.call(self.registrations.GetRegistration, request).registration

    def list_registrations(
        self, webinar: str, *, filter: str = "", page_size: int = 100
    ) -> Iterator[registration_pb2.Registration]:
        """Every registration of a webinar (optionally `status = FAILED OR ...`), page by page."""

        def fetch(token: str) -> tuple[list[registration_pb2.Registration], str]:
            request = registration_pb2.ListRegistrationsRequest(
                parent=names.webinar(self.parent, webinar), page_size=page_size,
                page_token=token, filter=filter,
            )
            page = self.call(self.registrations.ListRegistrations, request)
            return list(page.registrations), page.next_page_token

        return self._pages(fetch)

    def cancel_registration(self, name: str) -> registration_pb2.Registration:
        request = registration_pb2.CancelRegistrationRequest(name=name)
        return self.call(self.registrations.CancelRegistration, request).registration

    def forget_person(self, email: str) -> int:
        """Erases a person across the tenant; returns how many registrations were forgotten."""
        request = registration_pb2.ForgetPersonRequest(parent=self.parent, email=email)
        return self.call(self.registrations.ForgetPerson, request).forgotten_registration_count

    # Metrics and changes

    def get_webinar_metrics(self, webinar: str) -> metrics_pb2.WebinarMetrics:
        name = names.webinar(self.parent, webinar) + "/metrics"
        request = metrics_pb2.GetWebinarMetricsRequest(name=name)
        return self.call(self.metrics.GetWebinarMetrics, request).webinar_metrics

    def sync_webinar_metrics(self, webinar: str) -> None:
        request = metrics_pb2.SyncWebinarMetricsRequest(name=names.webinar(self.parent, webinar))
        self.call(self.metrics.SyncWebinarMetrics, request)

    def list_attendee_metrics(
        self, webinar: str, *, page_size: int = 100
    ) -> Iterator[metrics_pb2.AttendeeMetrics]:
        def fetch(token: str) -> tuple[list[metrics_pb2.AttendeeMetrics], str]:
            request = metrics_pb2.ListAttendeeMetricsRequest(
                parent=names.webinar(self.parent, webinar), page_size=page_size, page_token=token
            )
            page = self.call(self.metrics.ListAttendeeMetrics, request)
            return list(page.attendee_metrics), page.next_page_token

        return self._pages(fetch)

    def list_changes(
        self, *, after_cursor: str = "", webinar: str = "", page_size: int = 100
    ) -> tuple[list[metrics_pb2.Change], str]:
        """Every change after `after_cursor` recorded so far, and the cursor to continue from."""
        changes: list[metrics_pb2.Change] = []
        cursor = after_cursor
        while True:
            request = metrics_pb2.ListChangesRequest(
                parent=self.parent, after_cursor=cursor, page_size=page_size,
                webinar=names.webinar(self.parent, webinar) if webinar else "",
            )
            page = self.call(self.metrics.ListChanges, request)
            changes += page.changes
            cursor = page.next_cursor or cursor
            if not page.changes:
                return changes, cursor

    def watch_changes(self, *, after_cursor: str = "", webinar: str = "") -> ChangeFeed:
        """The tenant's changes after `after_cursor`, forever, surviving disconnects."""
        state = FeedState(
            self.parent,
            after_cursor,
            names.webinar(self.parent, webinar) if webinar else "",
            RECONNECT_BACKOFF,
        )
        return ChangeFeed(self.metrics, state)


class ChangeFeed(Iterator[metrics_pb2.Change]):
    """Iterates the change feed one `Change` at a time. `cursor` is the position after the last
    change handed out (or the last heartbeat): store it to resume in a later process. Ends only
    on `close()` or an error that reconnecting cannot fix (raised as `WebinarError`).
    """

    def __init__(self, stub: metrics_pb2_grpc.MetricsServiceStub, state: FeedState) -> None:
        self._stub = stub
        self._state = state
        self._stream: Any = None

    @property
    def cursor(self) -> str:
        return self._state.cursor

    def close(self) -> None:
        """Stops the feed; a blocked `next()` in another thread returns with StopIteration."""
        self._state.closed = True
        if self._stream is not None:
            self._stream.cancel()

    def __iter__(self) -> ChangeFeed:
        return self

    def __next__(self) -> metrics_pb2.Change:
        state = self._state
        while True:
            change = state.pop()
            if change is not None:
                return change
            if state.closed:
                raise StopIteration
            if self._stream is None:
                # No deadline: the stream is meant to stay open.
                self._stream = self._stub.WatchChanges(state.request())
            try:
                message = next(self._stream)
            except StopIteration:
                self._stream = None
            except grpc.RpcError as error:
                self._stream = None
                if state.closed:
                    raise StopIteration from None
                if state.fatal(status_code(error)):
                    raise from_rpc_error(error) from None
            else:
                state.receive(message)
                continue
            time.sleep(state.next_pause())
