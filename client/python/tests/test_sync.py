"""The blocking client against the stack: calls, pages, idempotent creates and errors."""

from __future__ import annotations

import uuid
from typing import Any

import grpc
import pytest

import webinar_client as wc
from conftest import new_webinar, person


def test_creates_registers_and_pages_through_registrations(client: wc.Client, run: str) -> None:
    webinar = client.create_webinar(new_webinar(run))
    assert webinar.name.startswith(f"{client.parent}/webinars/")
    created = [client.create_registration(webinar.name, person(run, n)) for n in range(5)]
    assert all(r.created for r in created)

    listed = list(client.list_registrations(webinar.name, page_size=2))
    assert [r.name for r in listed] == [r.registration.name for r in created]
    short_id = webinar.name.rsplit("/", 1)[1]
    assert client.get_webinar(short_id).name == webinar.name
    assert webinar.name in {w.name for w in client.list_webinars(page_size=1)}
    assert client.get_webinar_metrics(webinar.name).registration_count == 5


def test_a_retried_create_with_the_same_request_id_creates_once(client: wc.Client, run: str) -> None:
    webinar = client.create_webinar(new_webinar(run))
    request_id = str(uuid.uuid4())
    first = client.create_registration(webinar.name, person(run, 1), request_id=request_id)
    again = client.create_registration(webinar.name, person(run, 1), request_id=request_id)
    assert first.created and not again.created
    assert again.registration.name == first.registration.name
    # The same request id for a different person is a client bug, not a retry.
    with pytest.raises(wc.AlreadyExists):
        client.create_registration(webinar.name, person(run, 2), request_id=request_id)


def test_invalid_fields_raise_with_their_violations(client: wc.Client, run: str) -> None:
    webinar = client.create_webinar(new_webinar(run))
    bad = wc.registration_pb2.Registration(email="not-an-email", first_name="Ada", last_name="L")
    with pytest.raises(wc.InvalidArgument) as raised:
        client.create_registration(webinar.name, bad)
    error = raised.value
    assert error.code == grpc.StatusCode.INVALID_ARGUMENT
    violation = error.violation("registration.email")
    assert violation is not None, error.field_violations
    assert violation.description


def test_another_tenant_is_refused_with_a_reason(stack_path: str, stack: dict[str, Any]) -> None:
    with wc.Client.from_stack(stack_path, tenant="someone-else", timeout=15) as other:
        with pytest.raises(wc.PermissionDenied) as raised:
            other.get_on24_credentials()
    assert raised.value.reason == "TENANT_MISMATCH"
    assert raised.value.domain == "webinar.local"


def test_an_unknown_webinar_is_not_found(client: wc.Client) -> None:
    with pytest.raises(wc.NotFound):
        client.get_webinar("00000000-0000-4000-8000-000000000000")


def test_the_deadline_applies_to_each_call(client: wc.Client, run: str) -> None:
    webinar = client.create_webinar(new_webinar(run))
    # A 1 µs deadline against a local server is a race the server can win now and then, so
    # the call is repeated until the deadline shows; a client that ignored it never raises.
    exceeded = 0
    for _ in range(50):
        try:
            client.call(
                client.webinars.GetWebinar,
                wc.webinar_pb2.GetWebinarRequest(name=webinar.name),
                timeout=1e-6,
            )
        except wc.DeadlineExceeded:
            exceeded += 1
            break
    assert exceeded == 1, "no call of 50 with a 1 µs deadline ran out of time"


def test_server_reflection_lists_and_describes_the_services(stack_path: str) -> None:
    from reflection import describe_service, list_services

    channel = wc.ChannelConfig.from_stack(stack_path).channel()
    services = list_services(channel)
    assert "webinar.v1.RegistrationService" in services, services
    assert "BatchCreateRegistrations" in describe_service(channel, "webinar.v1.RegistrationService")
    channel.close()
