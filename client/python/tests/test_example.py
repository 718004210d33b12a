"""Runs example.py and a generic reflection client against a running stack.

`cargo xtask clients-test` starts the stack and sets WEBINAR_STACK_JSON; without it these
tests are skipped (they need real services).
"""

from __future__ import annotations

import os
import sys
from pathlib import Path

import pytest

HERE = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(HERE))

STACK = os.environ.get("WEBINAR_STACK_JSON")
pytestmark = pytest.mark.skipif(not STACK, reason="needs a running stack (WEBINAR_STACK_JSON)")


def test_example_puts_credentials_creates_registers_and_reads_metrics():
    import example

    result = example.main(STACK)
    assert result["registration_created"] is True
    assert result["registration_count"] >= 1
    assert result["registration"].startswith(result["webinar"] + "/registrations/")


def test_a_second_registration_with_the_same_email_is_not_created_twice():
    import example
    import webinar_client as wc
    from webinar_client import registration_pb2

    first = example.main(STACK)
    client = wc.connect(STACK)
    again = client.registrations.CreateRegistration(
        registration_pb2.CreateRegistrationRequest(
            parent=first["webinar"],
            registration=registration_pb2.Registration(
                email=client.registrations.GetRegistration(
                    registration_pb2.GetRegistrationRequest(name=first["registration"]), timeout=15
                ).registration.email,
                first_name="Ada",
                last_name="Lovelace",
            ),
        ),
        timeout=15,
    )
    client.close()
    assert again.created is False
    assert again.registration.name == first["registration"]


def test_server_reflection_lists_and_describes_the_services():
    from reflection import describe_service, list_services
    import webinar_client as wc

    stack = wc.load_stack(STACK)
    channel = wc.secure_channel(stack)
    services = list_services(channel)
    assert "webinar.v1.WebinarService" in services, services
    assert "webinar.v1.RegistrationService" in services, services
    methods = describe_service(channel, "webinar.v1.RegistrationService")
    assert "BatchCreateRegistrations" in methods, methods
    channel.close()
