"""The app end to end: hand-counted read models of two organisations, and clients signed in to the dashboard."""

from __future__ import annotations

from collections.abc import Callable
from datetime import date
from pathlib import Path
from typing import Any

import pytest
from flask import Flask
from flask.testing import FlaskClient
from sqlalchemy import Engine

from dashboard import create_app
from impact.db import session_scope
from impact.settings import Environment, Settings
from schemas.readmodels import (
    Activity,
    Attendance,
    Change,
    ChangeLink,
    Contribution,
    ContributionParticipant,
)
from tests.dashboard.app.helpers import (
    ORG_NAMES,
)
from tests.factories import add_organisation, sign_in

# --- read models: hand-counted facts, on SQLite and PostgreSQL -------------------------------------------


def _attendance(event_id: str, org_id: str, participant_id: str, hours: float, attended_on: date) -> Attendance:
    return Attendance(
        event_id=event_id,
        org_id=org_id,
        activity_id="act-1",
        participant_id=participant_id,
        hours=hours,
        session_role="attendee",
        attended_on=attended_on,
    )


def _contribution(org_id: str, contribution_id: str, made_on: date) -> Contribution:
    return Contribution(org_id=org_id, contribution_id=contribution_id, area="research", text="…", made_on=made_on)


def _change(org_id: str, change_id: str, status: str, recorded_on: date, decided_on: date | None) -> Change:
    return Change(
        org_id=org_id,
        change_id=change_id,
        area="research",
        title="A change",
        description="…",
        status=status,
        recorded_on=recorded_on,
        decided_on=decided_on,
    )


@pytest.fixture
def involvement(engine: Engine) -> Engine:
    """Hand-counted facts of org-a, plus org-b rows that reuse org-a's ids to catch a missing org filter.

    In Q1 2025 org-a has: attendances by p1, p2 (6.75 hours); contributions c1 (p1, p4), c2 (p5), c3 (p2);
    so 4 people. Changes counted in Q1: ch1 (decided 1 Feb), ch2 (recorded 10 Mar), ch5 (decided 20 Jan);
    ch3 was decided in December and ch4 has no link. Influenced contributions: c1 (ch1 implemented) and
    c3 (ch3 agreed, and ch5 declined: counted once); c2 is linked only to the proposed ch2.
    """
    rows: list[Any] = [
        *(
            Activity(
                org_id=org,
                activity_id="act-1",
                title="Panel",
                area="research",
                level="consultation",
                held_on=date(2024, 12, 31),
                duration_hours=10.0,
            )
            for org in ("org-a", "org-b")
        ),
        _attendance("e1", "org-a", "p1", 2.5, date(2025, 1, 10)),
        _attendance("e2", "org-a", "p2", 1.25, date(2025, 2, 5)),
        _attendance("e3", "org-a", "p1", 3.0, date(2025, 3, 31)),
        _attendance("e4", "org-a", "p3", 4.0, date(2024, 12, 31)),
        _attendance("e5", "org-a", "p9", 10.0, date(2025, 4, 1)),
        _attendance("e6", "org-b", "p1", 7.0, date(2025, 2, 1)),
        _contribution("org-a", "c1", date(2025, 1, 10)),
        _contribution("org-a", "c2", date(2025, 2, 20)),
        _contribution("org-a", "c3", date(2025, 3, 1)),
        _contribution("org-a", "c4", date(2024, 12, 15)),
        _contribution("org-b", "c2", date(2025, 2, 1)),
        ContributionParticipant(org_id="org-a", contribution_id="c1", participant_id="p1"),
        ContributionParticipant(org_id="org-a", contribution_id="c1", participant_id="p4"),
        ContributionParticipant(org_id="org-a", contribution_id="c2", participant_id="p5"),
        ContributionParticipant(org_id="org-a", contribution_id="c3", participant_id="p2"),
        ContributionParticipant(org_id="org-a", contribution_id="c4", participant_id="p6"),
        ContributionParticipant(org_id="org-b", contribution_id="c2", participant_id="p7"),
        _change("org-a", "ch1", "implemented", date(2025, 1, 15), date(2025, 2, 1)),
        _change("org-a", "ch2", "proposed", date(2025, 3, 10), None),
        _change("org-a", "ch3", "agreed", date(2024, 11, 1), date(2024, 12, 20)),
        _change("org-a", "ch4", "implemented", date(2025, 2, 10), date(2025, 3, 5)),
        _change("org-a", "ch5", "declined", date(2025, 1, 2), date(2025, 1, 20)),
        _change("org-b", "ch2", "implemented", date(2025, 2, 1), date(2025, 2, 10)),
        ChangeLink(org_id="org-a", change_id="ch1", contribution_id="c1", strength="major"),
        ChangeLink(org_id="org-a", change_id="ch1", contribution_id="c4", strength="minor"),
        ChangeLink(org_id="org-a", change_id="ch2", contribution_id="c2", strength="moderate"),
        ChangeLink(org_id="org-a", change_id="ch3", contribution_id="c3", strength="moderate"),
        ChangeLink(org_id="org-a", change_id="ch5", contribution_id="c3", strength="minor"),
        ChangeLink(org_id="org-b", change_id="ch2", contribution_id="c2", strength="major"),
    ]
    with session_scope(engine) as session:
        session.add_all(rows)
    return engine


@pytest.fixture
def settings(tmp_path: Path) -> Settings:
    return Settings(env=Environment.test, secret_key="t" * 40, data_dir=tmp_path / "var")


@pytest.fixture
def accounts(involvement: Engine) -> dict[str, dict[str, str]]:
    """org-a and org-b, each with one account per role: {org: {role: e-mail}}."""
    return {org_id: add_organisation(involvement, org_id, name=name) for org_id, name in ORG_NAMES.items()}


@pytest.fixture
def server(involvement: Engine, settings: Settings) -> Flask:
    server: Flask = create_app(settings, involvement).server
    return server


@pytest.fixture
def visitor(server: Flask) -> FlaskClient:
    """Nobody signed in."""
    return server.test_client()


@pytest.fixture
def client_of(server: Flask, accounts: dict[str, dict[str, str]]) -> Callable[..., FlaskClient]:
    """`client_of(org_id, role="leadership")` -> a client signed in as that organisation's account."""

    def signed_in(org_id: str, role: str = "leadership") -> FlaskClient:
        client = server.test_client()
        sign_in(client, accounts[org_id][role])
        return client

    return signed_in


@pytest.fixture
def client(client_of: Callable[..., FlaskClient]) -> FlaskClient:
    """Leadership of org-a."""
    return client_of("org-a")
