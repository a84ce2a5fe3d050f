"""Participants' links are built from IMPACT_PUBLIC_URL, never from the request's Host header (issue 17, 11b):
a forged Host cannot put another site's address on a letter."""

from __future__ import annotations

import re
from pathlib import Path

import pytest
from flask.testing import FlaskClient
from sqlalchemy import Engine

from impact.eventlog import EventLog
from impact.feedback.outbox import State
from impact.settings import Settings
from processors.quality import QualityGate
from tests.factories import csrf_from
from tests.ingest.feedback_world import ORG, World, build_world

FORGED = "attacker.example.net"
ROOT = Path(__file__).resolve().parents[2]


@pytest.fixture
def world(settings: Settings, engine: Engine, event_log: EventLog, gate: QualityGate) -> World:
    return build_world(settings, engine, event_log, gate)


def test_a_letters_link_and_code_use_the_public_url_whatever_the_host_header(world: World) -> None:
    world.add_item("p-bea", "ch-1", State.letter, channel="post")
    staff: FlaskClient = world.client(f"staff@{ORG}.example.org")
    staff.environ_base["HTTP_HOST"] = FORGED  # every request from now on names another host
    listing = staff.get("/staff/feedback/letters")
    assert listing.status_code == 200, "the session still holds (a host-only cookie of the test client)"
    items = re.findall(r'name="item" value="([^"]+)"', listing.get_data(as_text=True))
    assert items
    printed = staff.post(
        "/staff/feedback/letters/print",
        data={"csrf_token": csrf_from(staff, "/staff/feedback/letters"), "item": items},
        follow_redirects=True,
    )
    letter = printed.get_data(as_text=True)
    assert printed.status_code == 200 and '<article class="letter"' in letter
    assert FORGED not in letter
    assert f"{world.settings.public_url}/you/" in letter


def test_nothing_builds_an_address_from_the_request() -> None:
    """The one use of the request's host is the staff's link between the two services (`address_of`), which
    keeps the host the browser used so the session cookie goes along; no participant link or e-mail uses it."""
    pattern = re.compile(r"request\.(host|host_url|url_root|base_url|url)\b|_external\s*=\s*True")
    found = []
    for package in ("ingest", "dashboard", "impact", "processors"):
        for path in sorted((ROOT / package).rglob("*.py")):
            for number, line in enumerate(path.read_text().splitlines(), 1):
                if pattern.search(line):
                    found.append(f"{path.relative_to(ROOT)}:{number}")
    assert [place.rsplit(":", 1)[0] for place in found] == ["impact/auth/sessions.py"], found
