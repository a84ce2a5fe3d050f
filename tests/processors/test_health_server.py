"""The processor's health server: loopback by default, and a slow client cannot hold it."""

from __future__ import annotations

import json
import socket
import time
import urllib.request

import pytest

from impact.settings import Settings
from processors import health as health_module
from processors.consumer import Health
from processors.health import serve_health


def test_binds_loopback_by_default_even_when_the_web_services_bind_everywhere(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("IMPACT_HOST", "0.0.0.0")  # noqa: S104 - the container's setting for the web services
    monkeypatch.delenv("IMPACT_PROCESSOR_HEALTH_HOST", raising=False)
    assert Settings().processor_health_host == "127.0.0.1"
    monkeypatch.setenv("IMPACT_PROCESSOR_HEALTH_HOST", "0.0.0.0")  # noqa: S104
    assert Settings().processor_health_host == "0.0.0.0"  # noqa: S104


def test_a_silent_client_is_cut_off_and_others_are_still_answered(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(health_module, "CLIENT_TIMEOUT_S", 0.5)
    health = Health()
    health.last_poll_at = time.time()
    server = serve_health(health, "127.0.0.1", 0)
    try:
        host, port = server.server_address[:2]
        assert host == "127.0.0.1"
        silent = socket.create_connection((host, port))  # connects, then sends nothing
        with urllib.request.urlopen(f"http://{host}:{port}/healthz", timeout=3) as answer:
            assert answer.status == 200
            assert json.loads(answer.read())["status"] == "ok"
        silent.settimeout(3)
        started = time.monotonic()
        assert silent.recv(1024) == b""  # the server closed it
        assert time.monotonic() - started < 2.5
        silent.close()
    finally:
        server.shutdown()
        server.server_close()
