"""The change feed iterators keep going across a restart of the integration service (on the
same database): they reconnect, resume from the last cursor, and neither miss nor repeat a
change. Uses a private integration service (see `conftest.PrivateService`)."""

from __future__ import annotations

import asyncio
import queue
import threading
from typing import Any

import pytest

import webinar_client as wc
from conftest import PrivateService, demo_credentials, new_webinar, person
from webinar_client.aio import AsyncClient

PATIENT = wc.RetryPolicy(max_attempts=60, initial_backoff=0.1, max_backoff=1.0)


def _wait_for(changes: "queue.Queue[Any]", resource: str, seen: list[Any]) -> None:
    while True:
        change = changes.get(timeout=60)
        if isinstance(change, BaseException):
            raise change
        seen.append(change)
        if change.resource == resource:
            return


def test_sync_feed_resumes_after_a_restart(
    private_service: PrivateService, stack_path: str, stack: dict[str, Any], run: str
) -> None:
    config = private_service.channel_config(stack_path)
    client = wc.Client.connect(config, "demo", timeout=15, retry=PATIENT)

    # A fresh database: no credentials, so the integration is disabled.
    with pytest.raises(wc.FailedPrecondition) as raised:
        client.create_webinar(new_webinar(run))
    assert raised.value.reason == "INTEGRATION_DISABLED"

    client.put_on24_credentials(demo_credentials(stack))
    webinar = client.create_webinar(new_webinar(run))

    feed = client.watch_changes()
    changes: "queue.Queue[Any]" = queue.Queue()

    def consume() -> None:
        try:
            for change in feed:
                changes.put(change)
        except BaseException as error:  # handed to the test thread
            changes.put(error)

    threading.Thread(target=consume, daemon=True).start()
    seen: list[Any] = []
    _wait_for(changes, webinar.name, seen)

    private_service.stop()
    private_service.start()

    registered = client.create_registration(webinar.name, person(run)).registration
    _wait_for(changes, registered.name, seen)
    feed.close()

    cursors = [c.cursor for c in seen]
    assert len(cursors) == len(set(cursors)), "a change was repeated"
    recorded, _ = client.list_changes()
    expected = [c.cursor for c in recorded]
    assert cursors == expected[: len(cursors)], "a change was missed"
    client.close()


async def _async_feed(service: PrivateService, stack_path: str, stack: dict[str, Any], run: str) -> None:
    client = AsyncClient.connect(service.channel_config(stack_path), "demo", timeout=15, retry=PATIENT)
    await client.put_on24_credentials(demo_credentials(stack))
    webinar = await client.create_webinar(new_webinar(run))
    feed = client.watch_changes()
    seen: list[Any] = []

    async def until(resource: str) -> None:
        async for change in feed:
            seen.append(change)
            if change.resource == resource:
                return

    await asyncio.wait_for(until(webinar.name), timeout=60)
    await asyncio.to_thread(service.stop)
    await asyncio.to_thread(service.start)
    registered = (await client.create_registration(webinar.name, person(run))).registration
    await asyncio.wait_for(until(registered.name), timeout=60)
    feed.close()
    cursors = [c.cursor for c in seen]
    assert len(cursors) == len(set(cursors)), "a change was repeated"
    assert seen[-1].resource == registered.name
    await client.close()


def test_async_feed_resumes_after_a_restart(
    private_service: PrivateService, stack_path: str, stack: dict[str, Any], run: str
) -> None:
    asyncio.run(_async_feed(private_service, stack_path, stack, run))
