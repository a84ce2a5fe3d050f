"""The production server's access log never keeps a participant's private link."""

from __future__ import annotations

import json
from datetime import timedelta
from types import SimpleNamespace

import pytest
from gunicorn.config import Config

from impact.serve import AccessLog, masked


@pytest.mark.parametrize(
    ("line", "kept"),
    [
        ("GET /you/WyJhYmMiLDE3MDBd.Zk9x-_a HTTP/1.1", "GET /you/[link] HTTP/1.1"),
        ("GET /you/WyJhYmMiLDE3MDBd.Zk9x-_a?print=1 HTTP/1.1", "GET /you/[link]?print=1 HTTP/1.1"),
        ("GET /report?from=2026-01-01 HTTP/1.1", "GET /report?from=2026-01-01 HTTP/1.1"),
        ("GET /static/participant.css HTTP/1.1", "GET /static/participant.css HTTP/1.1"),
        ("GET /staff/participants?q=Amira+Khan&page=2 HTTP/1.1", "GET /staff/participants?q=[search]&page=2 HTTP/1.1"),
        ("GET /staff/search/participants?q=amira HTTP/1.1", "GET /staff/search/participants?q=[search] HTTP/1.1"),
        (
            "GET /staff/changes/new?find-links=agenda&x=1 HTTP/1.1",
            "GET /staff/changes/new?find-links=[search]&x=1 HTTP/1.1",
        ),
        ("GET /staff/activities?page=3 HTTP/1.1", "GET /staff/activities?page=3 HTTP/1.1"),
    ],
)
def test_private_links_are_masked(line: str, kept: str) -> None:
    assert masked(line) == kept


def test_the_access_log_masks_the_request_line_path_and_referrer() -> None:
    token = "WyJhYmMiLDE3MDBd.Zk9x-_a"
    request = SimpleNamespace(headers=[], method="GET", path=f"/you/{token}", query="", version=(1, 1), uri=None)
    response = SimpleNamespace(status="200 OK", sent=10, headers=[])
    environ = {
        "REQUEST_METHOD": "GET",
        "RAW_URI": f"/you/{token}",
        "PATH_INFO": f"/you/{token}",
        "QUERY_STRING": "",
        "SERVER_PROTOCOL": "HTTP/1.1",
        "REMOTE_ADDR": "127.0.0.1",
        "HTTP_REFERER": f"https://impact.example.org/you/{token}",
    }
    atoms = AccessLog(Config()).atoms(response, request, environ, SimpleNamespace(seconds=0, microseconds=1000))
    assert token not in " ".join(str(value) for value in atoms.values())
    assert atoms["r"] == "GET /you/[link] HTTP/1.1"


def test_an_access_line_is_one_json_object_with_the_request_fields_and_the_link_masked(
    capsys: pytest.CaptureFixture[str],
) -> None:
    token = "WyJhYmMiLDE3MDBd.Zk9x-_a"
    config = Config()
    config.set("proc_name", "dashboard")
    config.set("accesslog", "-")
    request = SimpleNamespace(
        headers=[], method="GET", path=f"/you/{token}", query='next="x"', version=(1, 1), uri=None
    )
    response = SimpleNamespace(status="200 OK", sent=10, headers=[])
    environ = {
        "REQUEST_METHOD": "GET",
        "RAW_URI": f'/you/{token}"',
        "PATH_INFO": f'/you/{token}"',
        "QUERY_STRING": 'next="x"',
    }
    environ |= {"SERVER_PROTOCOL": "HTTP/1.1", "REMOTE_ADDR": "127.0.0.1"}
    AccessLog(config).access(response, request, environ, timedelta(milliseconds=12))
    lines = capsys.readouterr().err.splitlines()
    assert len(lines) == 1 and token not in lines[0]
    entry = json.loads(lines[0])
    assert (entry["service"], entry["logger"], entry["level"]) == ("dashboard", "gunicorn.access", "INFO")
    assert entry["query"] == 'next="x"'
    assert (entry["method"], entry["path"], entry["status"], entry["duration_ms"]) == ("GET", "/you/[link]", 200, 12.0)
