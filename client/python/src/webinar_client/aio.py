"""The asyncio client over `grpc.aio`: the same methods as `Client`, as coroutines; list calls
are async iterators over all pages and the change feed is an async iterator that reconnects
and resumes from its cursor.
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Awaitable, Callable
from types import TracebackType
from typing import Any, TypeVar

import grpc
import grpc.aio

from webinar_client import names
from webinar_client.channel import ChannelConfig, StrPath, load_stack
from webinar_client.client import DEFAULT_TIMEOUT
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

__all__ = ["AsyncChangeFeed", "AsyncClient"]


class AsyncClient:
    """The `webinar.v1` services for one tenant over one `grpc.aio` channel."""

    def __init__(
        self,
        channel: grpc.aio.Channel,
        tenant: str,
        *,
        timeout: float = DEFAULT_TIMEOUT,
        retry: RetryPolicy = RetryPolicy(),
    ) -> None:
        self.channel = channel
        self.parent = names.tenant(tenant)
        self.timeout = timeout
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
    ) -> AsyncClient:
        """A client of a local stack (`cargo xtask up`), for its demo tenant by default."""
        stack = load_stack(path)
        config = ChannelConfig.from_stack(path, identity)
        return cls(config.aio_channel(), tenant or stack["demo"]["tenant"], **kwargs)

    @classmethod
    def connect(cls, config: ChannelConfig, tenant: str, **kwargs: Any) -> AsyncClient:
        """A client from explicit settings (`ChannelConfig.from_files(...)`)."""
        return cls(config.aio_channel(), tenant, **kwargs)

    async def close(self) -> None:
        await self.channel.close()

    async def __aenter__(self) -> AsyncClient:
        return self

    async def __aexit__(
        self,
        kind: type[BaseException] | None,
        value: BaseException | None,
        traceback: TracebackType | None,
    ) -> None:
        await self.close()

    async def call(
        self,
        method: Callable[..., Awaitable[Resp]],
        request: Any,
        *,
        idempotent: bool = True,
        timeout: float | None = None,
    ) -> Resp:
        """Calls a unary method of any async stub with this client's deadline, retries and
        errors."""
        policy = self.retry if idempotent else NO_RETRY
        attempt = 0
        while True:
            attempt += 1
            try:
                return await method(request, timeout=timeout or self.timeout)
            except grpc.aio.AioRpcError as error:
                if policy.should_retry(status_code(error), attempt):
                    await asyncio.sleep(policy.backoff(attempt - 1))
                    continue
                raise from_rpc_error(error) from None

    async def _pages(
        self, fetch: Callable[[str], Awaitable[tuple[list[Item], str]]]
    ) -> AsyncIterator[Item]:
        token = ""
        while True:
            items, token = await fetch(token)
            for item in items:
                yield item
            if not token:
                return

    async def put_on24_credentials(
        self, credentials: provider_config_pb2.On24Credentials, *, live_check: bool = False
    ) -> provider_config_pb2.On24Credentials:
        credentials.name = credentials.name or f"{self.parent}/on24Credentials"
        request = provider_config_pb2.PutOn24CredentialsRequest(
            on24_credentials=credentials, live_check=live_check
        )
        response = await self.call(self.credentials.PutOn24Credentials, request)
        return response.on24_credentials

    async def get_on24_credentials(self) -> provider_config_pb2.On24Credentials:
        request = provider_config_pb2.GetOn24CredentialsRequest(name=f"{self.parent}/on24Credentials")
        response = await self.call(self.credentials.GetOn24Credentials, request)
        return response.on24_credentials

    async def create_webinar(
        self, webinar: webinar_pb2.Webinar, *, request_id: str | None = None
    ) -> webinar_pb2.Webinar:
        request = webinar_pb2.CreateWebinarRequest(
            parent=self.parent, webinar=webinar, request_id=names.request_id(request_id)
        )
        return (await self.call(self.webinars.CreateWebinar, request)).webinar

    async def get_webinar(self, webinar: str) -> webinar_pb2.Webinar:
        request = webinar_pb2.GetWebinarRequest(name=names.webinar(self.parent, webinar))
        return (await self.call(self.webinars.GetWebinar, request)).webinar

    def list_webinars(
        self, *, page_size: int = 100, show_unlinked: bool = False
    ) -> AsyncIterator[webinar_pb2.Webinar]:
        async def fetch(token: str) -> tuple[list[webinar_pb2.Webinar], str]:
            request = webinar_pb2.ListWebinarsRequest(
                parent=self.parent, page_size=page_size, page_token=token,
                show_unlinked=show_unlinked,
            )
            page = await self.call(self.webinars.ListWebinars, request)
            return list(page.webinars), page.next_page_token

        return self._pages(fetch)

    async def create_registration(
        self,
        webinar: str,
        registration: registration_pb2.Registration,
        *,
        request_id: str | None = None,
    ) -> registration_pb2.CreateRegistrationResponse:
        request = registration_pb2.CreateRegistrationRequest(
            parent=names.webinar(self.parent, webinar),
            registration=registration,
            request_id=names.request_id(request_id),
        )
        return await self.call(self.registrations.CreateRegistration, request)

    async def get_registration(self, name: str) -> registration_pb2.Registration:
        request = registration_pb2.GetRegistrationRequest(name=name)
        return (await self.call(self.registrations.GetRegistration, request)).registration

    def list_registrations(
        self, webinar: str, *, filter: str = "", page_size: int = 100
    ) -> AsyncIterator[registration_pb2.Registration]:
        async def fetch(token: str) -> tuple[list[registration_pb2.Registration], str]:
            request = registration_pb2.ListRegistrationsRequest(
                parent=names.webinar(self.parent, webinar), page_size=page_size,
                page_token=token, filter=filter,
            )
            page = await self.call(self.registrations.ListRegistrations, request)
            return list(page.registrations), page.next_page_token

        return self._pages(fetch)

    async def cancel_registration(self, name: str) -> registration_pb2.Registration:
        request = registration_pb2.CancelRegistrationRequest(name=name)
        return (await self.call(self.registrations.CancelRegistration, request)).registration

    async def forget_person(self, email: str) -> int:
        request = registration_pb2.ForgetPersonRequest(parent=self.parent, email=email)
        response = await self.call(self.registrations.ForgetPerson, request)
        return response.forgotten_registration_count

    async def get_webinar_metrics(self, webinar: str) -> metrics_pb2.WebinarMetrics:
        name = names.webinar(self.parent, webinar) + "/metrics"
        request = metrics_pb2.GetWebinarMetricsRequest(name=name)
        return (await self.call(self.metrics.GetWebinarMetrics, request)).webinar_metrics

    async def sync_webinar_metrics(self, webinar: str) -> None:
        request = metrics_pb2.SyncWebinarMetricsRequest(name=names.webinar(self.parent, webinar))
        await self.call(self.metrics.SyncWebinarMetrics, request)

    def list_attendee_metrics(
        self, webinar: str, *, page_size: int = 100
    ) -> AsyncIterator[metrics_pb2.AttendeeMetrics]:
        async def fetch(token: str) -> tuple[list[metrics_pb2.AttendeeMetrics], str]:
            request = metrics_pb2.ListAttendeeMetricsRequest(
                parent=names.webinar(self.parent, webinar), page_size=page_size, page_token=token
            )
            page = await self.call(self.metrics.ListAttendeeMetrics, request)
            return list(page.attendee_metrics), page.next_page_token

        return self._pages(fetch)

    def watch_changes(self, *, after_cursor: str = "", webinar: str = "") -> AsyncChangeFeed:
        """The tenant's changes after `after_cursor`, forever, surviving disconnects."""
        state = FeedState(
            self.parent,
            after_cursor,
            names.webinar(self.parent, webinar) if webinar else "",
            RECONNECT_BACKOFF,
        )
        return AsyncChangeFeed(self.metrics, state)


class AsyncChangeFeed(AsyncIterator[metrics_pb2.Change]):
    """`async for change in feed`: like `ChangeFeed`, over `grpc.aio`."""

    def __init__(self, stub: Any, state: FeedState) -> None:
        self._stub = stub
        self._state = state
        self._stream: Any = None

    @property
    def cursor(self) -> str:
        return self._state.cursor

    def close(self) -> None:
        self._state.closed = True
        if self._stream is not None:
            self._stream.cancel()

    def __aiter__(self) -> AsyncChangeFeed:
        return self

    async def __anext__(self) -> metrics_pb2.Change:
        state = self._state
        while True:
            change = state.pop()
            if change is not None:
                return change
            if state.closed:
                raise StopAsyncIteration
            if self._stream is None:
                self._stream = self._stub.WatchChanges(state.request())
            try:
                message = await self._stream.read()
            except grpc.aio.AioRpcError as error:
                self._stream = None
                if state.closed:
                    raise StopAsyncIteration from None
                if state.fatal(status_code(error)):
                    raise from_rpc_error(error) from None
            except asyncio.CancelledError:
                if state.closed:
                    raise StopAsyncIteration from None
                raise
            else:
                if message is grpc.aio.EOF:
                    self._stream = None
                else:
                    state.receive(message)
                    continue
            await asyncio.sleep(state.next_pause())
