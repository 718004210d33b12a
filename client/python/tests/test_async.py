"""The asyncio client against the stack: calls, pages, errors and the change feed."""

from __future__ import annotations

import asyncio
from typing import Any

import pytest

import webinar_client as wc
from conftest import demo_credentials, new_webinar, person
from webinar_client.aio import AsyncClient


async def _calls(stack_path: str, stack: dict[str, Any], run: str) -> None:
    async with AsyncClient.from_stack(stack_path, timeout=15) as client:
        await client.put_on24_credentials(demo_credentials(stack))
        webinar = await client.create_webinar(new_webinar(run))
        created = await asyncio.gather(
            *(client.create_registration(webinar.name, person(run, n)) for n in range(3))
        )
        assert all(r.created for r in created)
        names = [r.name async for r in client.list_registrations(webinar.name, page_size=1)]
        assert sorted(names) == sorted(r.registration.name for r in created)

        bad = wc.registration_pb2.Registration(email="nope", first_name="A", last_name="B")
        with pytest.raises(wc.InvalidArgument) as raised:
            await client.create_registration(webinar.name, bad)
        assert raised.value.violation("registration.email") is not None

        # The feed from the start of the tenant's history reaches this webinar's registrations.
        feed = client.watch_changes(webinar=webinar.name)
        wanted = {r.registration.name for r in created}
        seen: list[str] = []

        async def follow() -> None:
            async for change in feed:
                seen.append(change.cursor)
                wanted.discard(change.resource)
                if not wanted:
                    return

        await asyncio.wait_for(follow(), timeout=60)
        assert len(seen) == len(set(seen))
        assert feed.cursor
        feed.close()


def test_async_calls_pages_errors_and_feed(stack_path: str, stack: dict[str, Any], run: str) -> None:
    asyncio.run(_calls(stack_path, stack, run))
