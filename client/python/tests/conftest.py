"""Fixtures for the tests against a real stack (`cargo xtask clients-test` starts one and sets
`WEBINAR_STACK_JSON`, plus `WEBINAR_INTEGRATIONSERVICE_BIN` for the restart tests). They run
against the installed `webinar-client` wheel, from a folder outside the repository.
"""

from __future__ import annotations

import dataclasses
import os
import signal
import socket
import subprocess
import time
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

import webinar_client as wc

STACK = os.environ.get("WEBINAR_STACK_JSON")
BIN = os.environ.get("WEBINAR_INTEGRATIONSERVICE_BIN")


def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    if not STACK:
        skip = pytest.mark.skip(reason="needs a running stack (WEBINAR_STACK_JSON)")
        for item in items:
            item.add_marker(skip)


@pytest.fixture(scope="session")
def stack_path() -> str:
    assert STACK
    return STACK


@pytest.fixture(scope="session")
def stack(stack_path: str) -> dict[str, Any]:
    return wc.load_stack(stack_path)


def demo_credentials(stack: dict[str, Any]) -> wc.provider_config_pb2.On24Credentials:
    demo = stack["demo"]["on24"]
    return wc.provider_config_pb2.On24Credentials(
        client_id=demo["client_id"],
        access_token_key=demo["access_token_key"],
        access_token_secret=demo["access_token_secret"],
        base_url=demo["base_url"],
    )


def new_webinar(run: str) -> wc.webinar_pb2.Webinar:
    webinar = wc.webinar_pb2.Webinar(
        crm_reference_id=f"py-{run}", title="Python client test", duration_minutes=60,
        time_zone="Europe/Paris",
    )
    webinar.start_time.FromSeconds(int(time.time()) + 7 * 24 * 3600)
    return webinar


def person(run: str, n: int = 0) -> wc.registration_pb2.Registration:
    return wc.registration_pb2.Registration(
        email=f"ada-{run}-{n}@example.com", first_name="Ada", last_name="Lovelace"
    )


@pytest.fixture
def run() -> str:
    return uuid.uuid4().hex[:10]


@pytest.fixture
def client(stack_path: str, stack: dict[str, Any]) -> Iterator[wc.Client]:
    with wc.Client.from_stack(stack_path, timeout=15) as client:
        client.put_on24_credentials(demo_credentials(stack))
        yield client


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port: int = s.getsockname()[1]
        return port


class PrivateService:
    """An integration service of our own (the stack's configuration, key service and ON24
    simulator, but its own ports and SQLite file), so a test can stop and restart it on the
    same database without disturbing the shared stack."""

    def __init__(self, stack: dict[str, Any], folder: Path) -> None:
        assert BIN, "WEBINAR_INTEGRATIONSERVICE_BIN must name the integrationservice binary"
        self.config = Path(stack["state_dir"]) / "integrationservice" / "integrationservice.toml"
        self.port = free_port()
        self.env = dict(
            os.environ,
            INTEGRATIONSERVICE_LISTEN__GRPC=f"127.0.0.1:{self.port}",
            INTEGRATIONSERVICE_LISTEN__HEALTH=f"127.0.0.1:{free_port()}",
            INTEGRATIONSERVICE_DATABASE__URL=str(folder / "integrationservice.sqlite"),
        )
        self.log = open(folder / "integrationservice.log", "ab")
        self.process: subprocess.Popen[bytes] | None = None

    def channel_config(self, stack_path: str) -> wc.ChannelConfig:
        config = wc.ChannelConfig.from_stack(stack_path)
        return dataclasses.replace(config, target=f"127.0.0.1:{self.port}")

    def start(self) -> None:
        assert BIN
        self.process = subprocess.Popen(
            [BIN, "--config", str(self.config), "serve"],
            env=self.env, stdout=self.log, stderr=self.log, stdin=subprocess.DEVNULL,
        )
        deadline = time.monotonic() + 60
        while True:
            assert self.process.poll() is None, "the private integration service exited"
            try:
                socket.create_connection(("127.0.0.1", self.port), timeout=1).close()
                return
            except OSError:
                assert time.monotonic() < deadline, "the private service did not listen"
                time.sleep(0.1)

    def stop(self) -> None:
        if self.process is None or self.process.poll() is not None:
            return
        self.process.send_signal(signal.SIGINT)
        assert self.process.wait(timeout=30) == 0
        self.process = None


@pytest.fixture
def private_service(stack: dict[str, Any], tmp_path: Path) -> Iterator[PrivateService]:
    service = PrivateService(stack, tmp_path)
    service.start()
    try:
        yield service
    finally:
        if service.process is not None and service.process.poll() is None:
            service.process.kill()
            service.process.wait()
        service.log.close()
