"""Example: call the webinar integration service from Python with mTLS.

Reads the local stack's stack.json (argument, WEBINAR_STACK_JSON, or .state/stack.json), puts
the demo ON24 credentials, creates a webinar, registers an attendee and reads the metrics.
Prints one JSON object with what it saw; exits non-zero if anything is off.

    cargo xtask up                      # in another terminal
    clients/python/.venv/bin/python clients/python/example.py
"""

from __future__ import annotations

import json
import sys
import time
import uuid

from google.protobuf.timestamp_pb2 import Timestamp

import webinar_client as wc
from webinar_client import metrics_pb2, provider_config_pb2, registration_pb2, webinar_pb2

TIMEOUT = 15  # seconds, the deadline of each call


def main(stack_path: str | None = None) -> dict:
    stack = wc.load_stack(stack_path)
    client = wc.Client(wc.secure_channel(stack), stack["demo"]["tenant"])
    demo = stack["demo"]["on24"]

    credentials = client.credentials.PutOn24Credentials(
        provider_config_pb2.PutOn24CredentialsRequest(
            on24_credentials=provider_config_pb2.On24Credentials(
                name=f"{client.parent}/on24Credentials",
                client_id=demo["client_id"],
                access_token_key=demo["access_token_key"],
                access_token_secret=demo["access_token_secret"],
                base_url=demo["base_url"],
            )
        ),
        timeout=TIMEOUT,
    ).on24_credentials

    run = uuid.uuid4().hex[:12]
    start = Timestamp(seconds=int(time.time()) + 7 * 24 * 3600)
    webinar = client.webinars.CreateWebinar(
        webinar_pb2.CreateWebinarRequest(
            parent=client.parent,
            webinar=webinar_pb2.Webinar(
                crm_reference_id=f"py-example-{run}",
                title="Python example webinar",
                start_time=start,
                duration_minutes=60,
                time_zone="Europe/Paris",
            ),
            request_id=str(uuid.uuid4()),
        ),
        timeout=TIMEOUT,
    ).webinar

    created = client.registrations.CreateRegistration(
        registration_pb2.CreateRegistrationRequest(
            parent=webinar.name,
            registration=registration_pb2.Registration(
                email=f"ada-{run}@example.com", first_name="Ada", last_name="Lovelace",
                company="Analytical Engines",
            ),
            request_id=str(uuid.uuid4()),
        ),
        timeout=TIMEOUT,
    )

    metrics = client.metrics.GetWebinarMetrics(
        metrics_pb2.GetWebinarMetricsRequest(name=f"{webinar.name}/metrics"), timeout=TIMEOUT
    ).webinar_metrics
    client.close()

    result = {
        "credentials_key_last_four": credentials.access_token_key_last_four,
        "webinar": webinar.name,
        "registration": created.registration.name,
        "registration_created": created.created,
        "registration_status": registration_pb2.RegistrationStatus.Name(created.registration.status),
        "registration_count": metrics.registration_count,
    }
    assert credentials.access_token_key_last_four == demo["access_token_key"][-4:], result
    assert webinar.name.startswith(f"{client.parent}/webinars/"), result
    assert created.created, result
    assert metrics.registration_count >= 1, result
    return result


if __name__ == "__main__":
    print(json.dumps(main(sys.argv[1] if len(sys.argv) > 1 else None), indent=2))
