"""Example: call the webinar integration service from Python with the `webinar-client` package.

Reads a local stack's stack.json (argument, WEBINAR_STACK_JSON, or .state/stack.json), puts
the demo ON24 credentials, creates a webinar, registers an attendee and reads the metrics.
Prints one JSON object with what it saw. Type-checked with `mypy --strict`.

    cargo xtask up                      # in another terminal
    pip install webinar_client-*.whl && python example.py .state/stack.json
"""

from __future__ import annotations

import json
import sys
import time
import uuid
from typing import Any

import webinar_client as wc
from webinar_client import provider_config_pb2, registration_pb2, webinar_pb2


def main(stack_path: str | None = None) -> dict[str, Any]:
    demo = wc.load_stack(stack_path)["demo"]["on24"]
    with wc.Client.from_stack(stack_path, timeout=15) as client:
        credentials = client.put_on24_credentials(
            provider_config_pb2.On24Credentials(
                client_id=demo["client_id"],
                access_token_key=demo["access_token_key"],
                access_token_secret=demo["access_token_secret"],
                base_url=demo["base_url"],
            )
        )
        run = uuid.uuid4().hex[:12]
        webinar = webinar_pb2.Webinar(
            crm_reference_id=f"py-example-{run}",
            title="Python example webinar",
            duration_minutes=60,
            time_zone="Europe/Paris",
        )
        webinar.start_time.FromSeconds(int(time.time()) + 7 * 24 * 3600)
        webinar = client.create_webinar(webinar)
        created = client.create_registration(
            webinar.name,
            registration_pb2.Registration(
                email=f"ada-{run}@example.com",
                first_name="Ada",
                last_name="Lovelace",
                company="Analytical Engines",
            ),
        )
        try:
            client.create_registration(
                webinar.name, registration_pb2.Registration(email="not an email")
            )
        except wc.InvalidArgument as error:
            refused = sorted(v.field for v in error.field_violations)
        metrics = client.get_webinar_metrics(webinar.name)

    return {
        "credentials_key_last_four": credentials.access_token_key_last_four,
        "webinar": webinar.name,
        "registration": created.registration.name,
        "registration_created": created.created,
        "registration_status": registration_pb2.RegistrationStatus.Name(
            created.registration.status
        ),
        "refused_fields": refused,
        "registration_count": metrics.registration_count,
    }


if __name__ == "__main__":
    print(json.dumps(main(sys.argv[1] if len(sys.argv) > 1 else None), indent=2))
