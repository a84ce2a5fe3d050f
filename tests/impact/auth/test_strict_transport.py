"""HSTS (issue 17, 11c): in production both web services tell the browser to keep to HTTPS; elsewhere not."""

from __future__ import annotations

from collections.abc import Callable

import pytest
from sqlalchemy import Engine

from dashboard import create_app as create_dashboard
from impact.auth.sessions import STRICT_TRANSPORT
from impact.settings import Environment, Settings
from ingest import create_app as create_ingest


@pytest.mark.parametrize("env", [Environment.production, Environment.development])
def test_both_services_send_hsts_in_production_only(
    log_settings: Callable[[str], Settings], engine: Engine, env: Environment
) -> None:
    settings = log_settings("embedded").model_copy(update={"env": env, "secret_key": "p" * 40})
    servers = {
        "ingest": create_ingest(settings, test_config={"TESTING": True}, engine=engine),
        "dashboard": create_dashboard(settings, engine).server,
    }
    for name, server in servers.items():
        client = server.test_client()
        for path in ("/login", "/healthz", "/no-such-page"):
            header = client.get(path).headers.get("Strict-Transport-Security")
            expected = STRICT_TRANSPORT if env == Environment.production else None
            assert header == expected, f"{name} {path}: {header!r}"
    assert STRICT_TRANSPORT.startswith("max-age=") and int(STRICT_TRANSPORT.split("=")[1]) >= 15_552_000
