"""Isolation between charities, for every route of the ingest app (enumerated from its URL map).

Another organisation's participant, activity, change, account or token answers 404 to every route that
names one (exactly 403 to a role that may not use the route); every other page shows none of its data.
A route this test does not know fails it, so a new route cannot slip through unexamined.
"""

from __future__ import annotations

import json
import re
import uuid
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from flask import Flask
from flask.testing import FlaskClient
from sqlalchemy import Engine
from sqlmodel import Session, select
from werkzeug.routing import Rule

from dashboard import create_app as create_dashboard
from dashboard import shell
from impact.auth.accounts import Role, StaffAccount
from impact.auth.tokens import ApiToken
from impact.eventlog import open_event_log
from impact.eventlog.embedded import EmbeddedLog
from impact.feedback import links
from impact.settings import Settings
from ingest import create_app
from schemas.events import StoredEvent
from schemas.readmodels import (
    Activity,
    Attendance,
    Change,
    ChangeLink,
    Contribution,
    ContributionParticipant,
    DeadLetter,
    Participant,
)
from tests.dashboard.app.helpers import callback_body, post_overview
from tests.factories import add_organisation, issue_token, sign_in

OURS, THEIRS = "mind-leeds", "south-voices"
SECRET = "THEIRS-SECRET"  # in every text of the other organisation, so any leak is visible
DAY = (datetime.now(UTC) - timedelta(days=3)).date()

# What each route argument names, and so how the test fills it in with the other organisation's record.
ORG_RECORDS = {
    "participant_id",
    "activity_id",
    "attendance_id",
    "contribution_id",
    "change_id",
    "account_id",
    "token_id",
    "event_id",
}
# static files; import template kinds; a printed batch's id (a batch with nothing of ours to print, another
# organisation's or none, leads back to the letters page, showing nothing of it: checked below)
NOT_ORG_DATA = {"filename", "kind", "batch_id"}


def _letter_id(org: str) -> str:
    """The event_id of the organisation's one dead letter (a record that needs attention)."""
    return str(uuid.uuid5(uuid.NAMESPACE_URL, f"dead-letter/{org}"))


def _records(org: str, text: str) -> list[Any]:
    return [
        DeadLetter(
            event_id=_letter_id(org),
            org_id=org,
            type="session.attended",
            expectation="participant_registered",
            reason=f"{text} reason",
            event_json=f'{{"type": "session.attended", "payload": {{"participant_id": "{text}"}}}}',
            log_partition=0,
            log_offset=0,
            recorded_on=DAY,
            dead_at=datetime.now(UTC),
        ),
        Participant(
            org_id=org,
            participant_id="p-1",
            display_name=f"{text} person",
            role="carer",
            email=f"{org}@example.org",
            registered_at=datetime.now(UTC),
        ),
        Participant(
            org_id=org,
            participant_id=f"p-{org}",
            display_name=f"{text} other person",
            role="patient",
            registered_at=datetime.now(UTC),
        ),
        Activity(
            org_id=org,
            activity_id=f"a-{org}",
            title=f"{text} panel",
            area="support",
            level="consultation",
            held_on=DAY,
            duration_hours=2,
        ),
        Attendance(
            event_id=f"att-{org}",
            org_id=org,
            activity_id=f"a-{org}",
            participant_id="p-1",
            hours=2,
            session_role="attendee",
            attended_on=DAY,
        ),
        Contribution(org_id=org, contribution_id=f"c-{org}", area="support", text=f"{text} said this", made_on=DAY),
        ContributionParticipant(org_id=org, contribution_id=f"c-{org}", participant_id="p-1"),
        Change(
            org_id=org,
            change_id=f"ch-{org}",
            area="support",
            title=f"{text} change",
            description=f"{text} did",
            status="proposed",
            recorded_on=DAY,
        ),
        ChangeLink(org_id=org, change_id=f"ch-{org}", contribution_id=f"c-{org}", strength="major"),
    ]


@pytest.fixture
def world(log_settings: Callable[[str], Settings], engine: Engine) -> tuple[Flask, Settings, dict[str, Any]]:
    """Two organisations with records, accounts and tokens; the app; the other organisation's ids."""
    add_organisation(engine, OURS)
    add_organisation(engine, THEIRS, name=f"{SECRET} charity")
    with Session(engine) as session:
        session.add_all(_records(OURS, "Our"))
        session.add_all(_records(THEIRS, SECRET))
        session.commit()
    issue_token(engine, OURS, name="our client")
    issue_token(engine, THEIRS, name=f"{SECRET} client")
    with Session(engine) as session:
        their_admin = session.exec(
            select(StaffAccount).where(StaffAccount.email == f"admin@{THEIRS}.example.org")
        ).one()
        their_token = session.exec(select(ApiToken).where(ApiToken.org_id == THEIRS)).one()
        theirs = {
            "participant_id": f"p-{THEIRS}",
            "activity_id": f"a-{THEIRS}",
            "change_id": f"ch-{THEIRS}",
            "contribution_id": f"c-{THEIRS}",
            "attendance_id": f"att-{THEIRS}",
            "batch_id": "0f0e0d0c-0b0a-4908-8706-050403020100",  # a printed batch's id: theirs, or nobody's
            "account_id": their_admin.id,
            "token_id": their_token.id,
            "event_id": _letter_id(THEIRS),
            "kind": "participants",
        }
    settings = log_settings("embedded")
    app = create_app(settings, open_event_log(settings), test_config={"TESTING": True}, engine=engine)
    return app, settings, theirs


ROLES = [str(role) for role in Role]  # each role of ours is examined: admins may use every staff and admin page
# Who may use the pages under each prefix (docs/operations/security.md). A role that may not use a page gets
# exactly 403, before anything is looked up; one that may gets 404 for the other organisation's record.
MAY_USE = {
    "/admin/": {"admin"},
    "/staff/": {"staff", "admin"},
    "/staff/participants/<participant_id>/erase": {"admin"},  # erasure: admins only
}


def _refused_with(rule: Rule, role: str) -> int:
    """The one status `role` must get on `rule` for the other organisation's record."""
    prefixes = sorted((prefix for prefix in MAY_USE if rule.rule.startswith(prefix)), key=len, reverse=True)
    assert prefixes, f"{rule.rule}: which roles may use it? add its prefix to MAY_USE"
    return 404 if role in MAY_USE[prefixes[0]] else 403  # the most specific prefix decides


def _ours_signed_in(app: Flask, role: str = "admin") -> FlaskClient:
    client = app.test_client()
    sign_in(client, f"{role}@{OURS}.example.org")
    return client


def _csrf(client: FlaskClient) -> str:
    page = client.get("/account/password")  # every role may choose their own password
    found = re.search(r'name="csrf_token" value="([^"]+)"', page.get_data(as_text=True))
    assert found
    return found.group(1)


def _rules(app: Flask) -> list[Rule]:
    return [rule for rule in app.url_map.iter_rules() if rule.endpoint != "static"]


def test_every_route_is_examined(world: tuple[Flask, Settings, dict[str, Any]]) -> None:
    app, _settings, _theirs = world
    unknown = {arg for rule in _rules(app) for arg in rule.arguments} - ORG_RECORDS - NOT_ORG_DATA
    assert not unknown, f"routes take arguments this test does not know how to fill: {unknown}; add them here"


@pytest.mark.parametrize("role", ROLES)
def test_another_organisations_records_are_not_found_on_any_route(
    world: tuple[Flask, Settings, dict[str, Any]], engine: Engine, role: str
) -> None:
    app, settings, theirs = world
    client = _ours_signed_in(app, role)
    token = _csrf(client)
    checked = []
    for rule in _rules(app):
        if not rule.arguments & ORG_RECORDS:
            continue
        url = rule.build({arg: theirs[arg] for arg in rule.arguments}, append_unknown=False)[1]
        for method in sorted((rule.methods or set()) & {"GET", "POST"}):
            data = {"csrf_token": token, "status": "agreed", "consent": "no", "participants": "p-1", "hours": "1"}
            response = client.open(url, method=method, data=data if method == "POST" else None)
            expected = _refused_with(rule, role)
            assert response.status_code == expected, f"{role}: {method} {url} answered {response.status_code}"
            assert SECRET not in response.get_data(as_text=True)
            checked.append(f"{method} {rule.rule} {expected}")
    assert len(checked) >= 12, checked
    if role != "admin":  # the forbidden pages were examined too, not only the ones the role may use
        assert any(item.endswith(" 403") for item in checked), checked
    log = app.extensions["impact.event_log"]
    assert isinstance(log, EmbeddedLog) and log.read(settings.topic, 0, 100) == [], "nothing was recorded"
    with Session(engine) as session:
        their_admin = session.get(StaffAccount, theirs["account_id"])
        their_token = session.get(ApiToken, theirs["token_id"])
        assert (
            their_admin is not None
            and their_admin.active
            and their_token is not None
            and their_token.revoked_at is None
        )


@pytest.mark.parametrize("role", ROLES)
def test_no_other_page_shows_another_organisations_data(
    world: tuple[Flask, Settings, dict[str, Any]], role: str
) -> None:
    app, settings, theirs = world
    client = _ours_signed_in(app, role)
    token = _csrf(client)
    pages = 0
    for rule in _rules(app):
        if rule.arguments & ORG_RECORDS:
            continue
        url = rule.build({arg: theirs[arg] for arg in rule.arguments}, append_unknown=False)[1]
        for method in sorted((rule.methods or set()) & {"GET", "POST"}):
            if method == "POST" and (rule.rule.startswith("/api/") or rule.endpoint == "sign_in.logout"):
                continue  # the API has its own test below; signing out would end the examination
            response = client.open(url, method=method, data={"csrf_token": token} if method == "POST" else None)
            assert response.status_code < 500, f"{method} {url}"
            assert not response.headers.get("Location", "").startswith("/login"), f"{method} {url} was not examined"
            assert SECRET not in response.get_data(as_text=True), f"{method} {url} shows the other organisation's data"
            pages += 1
    assert pages >= 15
    # Same reference, two organisations: ours is shown (to those who may see it).
    page = client.get("/staff/participants/p-1")
    assert SECRET not in page.get_data(as_text=True)
    if role != "leadership":
        assert "Our person" in page.get_data(as_text=True)
    else:
        assert page.status_code == 403
    log = app.extensions["impact.event_log"]
    assert isinstance(log, EmbeddedLog)
    assert {StoredEvent.from_bytes(m.value).org_id for m in log.read(settings.topic, 0, 100)} <= {OURS}


def test_the_api_records_for_the_token_s_organisation_only(
    world: tuple[Flask, Settings, dict[str, Any]], engine: Engine
) -> None:
    app, settings, _theirs = world
    secret = issue_token(engine, OURS)
    event = {
        "type": "participant.consent_changed",
        "org_id": THEIRS,
        "occurred_at": datetime.now(UTC).isoformat(),
        "payload": {"participant_id": "p-1", "consent": False},
    }
    response = app.test_client().post("/api/v1/events", json=event, headers={"Authorization": f"Bearer {secret}"})
    assert response.status_code == 403
    log = app.extensions["impact.event_log"]
    assert isinstance(log, EmbeddedLog) and log.read(settings.topic, 0, 100) == []


def test_every_form_refuses_a_post_without_its_csrf_token(
    world: tuple[Flask, Settings, dict[str, Any]], engine: Engine
) -> None:
    """Cross-site request forgery: every POST route but the token-authenticated API needs the form's token."""
    app, settings, _theirs = world
    client = _ours_signed_in(app)
    ours = {
        "participant_id": "p-1",
        "activity_id": f"a-{OURS}",
        "attendance_id": f"att-{OURS}",
        "contribution_id": f"c-{OURS}",
        "batch_id": "0f0e0d0c-0b0a-4908-8706-050403020100",
        "change_id": f"ch-{OURS}",
        "event_id": _letter_id(OURS),
        "kind": "participants",
    }
    with Session(engine) as session:
        ours["account_id"] = (
            session.exec(select(StaffAccount).where(StaffAccount.email == f"staff@{OURS}.example.org")).one().id
        )
        ours["token_id"] = session.exec(select(ApiToken).where(ApiToken.org_id == OURS)).first().id  # type: ignore[union-attr]
    refused = []
    for rule in _rules(app):
        if "POST" not in (rule.methods or set()) or rule.rule.startswith("/api/"):
            continue
        url = rule.build({arg: ours[arg] for arg in rule.arguments}, append_unknown=False)[1]
        response = client.post(url, data={"status": "agreed", "consent": "no", "name": "forged", "hours": "1"})
        assert response.status_code == 400, f"POST {url} without a CSRF token answered {response.status_code}"
        refused.append(rule.rule)
    assert len(refused) >= 12, refused
    assert client.get("/staff/").status_code == 200, "still signed in: not even signing out can be forged"
    log = app.extensions["impact.event_log"]
    assert isinstance(log, EmbeddedLog) and log.read(settings.topic, 0, 100) == []
    with Session(engine) as session:
        assert all(account.active for account in session.exec(select(StaffAccount)).all())
        assert all(token.revoked_at is None for token in session.exec(select(ApiToken)).all())


# Dashboard routes anyone may open: sign-in, health, participants' own pages (and the favicon).
PUBLIC_TO_STAFF = {"sign_in.login", "healthz", "participant_page"}


def _dashboard_tables(client: FlaskClient, period: str) -> list[tuple[Any, str]]:
    """(page, table key) of every table the dashboard's pages show, found through the callback."""
    found = []
    for page in shell.PAGES:
        response = client.post("/_dash-update-component", json=shell.callback_body(page.path, period))
        assert response.status_code == 200, response.get_data(as_text=True)[:300]
        text = json.dumps(response.get_json())  # Dash's JSON writes "/" as "\\u002f"
        hrefs = re.findall(r'"href": "/export/[^/]+/([^."]+)\.csv', text)
        found.extend((page, key) for key in hrefs)
    assert found
    return found


@pytest.mark.parametrize("role", ROLES)
def test_no_dashboard_route_shows_another_organisations_data(
    world: tuple[Flask, Settings, dict[str, Any]], engine: Engine, role: str
) -> None:
    """The dashboard's routes, enumerated too: its pages, callback, CSV exports, report and participants' links
    answer with our organisation only, whatever the role (staff may not read the dashboard: 403)."""
    _app, settings, _theirs = world
    with Session(engine) as session:  # their figures, which our dashboard must never show
        session.add(
            Attendance(
                event_id="att-theirs-big",
                org_id=THEIRS,
                activity_id=f"a-{THEIRS}",
                participant_id="p-1",
                hours=4817.0,
                session_role="attendee",
                attended_on=DAY,
            )
        )
        session.commit()
    server = create_dashboard(settings, engine).server
    reader = server.test_client()  # finds every table's export, which staff may not do
    sign_in(reader, f"admin@{OURS}.example.org")
    client = server.test_client()
    sign_in(client, f"{role}@{OURS}.example.org")
    reads = role != "staff"
    period = f"?from={DAY - timedelta(days=40)}&to={DAY}"
    examined = []
    for rule in server.url_map.iter_rules():
        if rule.arguments - NOT_ORG_DATA - {"path", "package_name", "fingerprinted_path", "slug", "key", "token"}:
            raise AssertionError(f"{rule.rule} takes an argument this test does not know how to fill")
        if rule.endpoint == "participant_page":  # a participant's private link: theirs ids are the same as ours
            with engine.begin() as conn:
                token, _ = links.create(
                    conn, secret_key=settings.signing_key, org_id=OURS, participant_id="p-1", days=1
                )
            urls = [f"/you/{token}"]
        elif rule.endpoint == "export_csv":  # every table of every page, for the same period
            urls = [f"/export/{page.slug}/{table}.csv{period}" for page, table in _dashboard_tables(reader, period)]
        elif rule.arguments or rule.endpoint == "sign_in.logout":
            continue  # the same static files for everyone; signing out would end the examination
        else:
            urls = [rule.rule + period]
        for url in urls:
            if "GET" in (rule.methods or set()):
                response = client.get(url)
            else:
                response = client.post(url, json=callback_body(DAY - timedelta(days=40), DAY))
            body = response.get_data().decode(errors="replace")  # the favicon is binary
            assert response.status_code < 500, url
            assert response.status_code != 404 or rule.endpoint != "export_csv", url
            if not reads and rule.endpoint not in PUBLIC_TO_STAFF and rule.rule != "/_favicon.ico":
                assert response.status_code == 403, f"staff: {url} answered {response.status_code}"
            assert not response.headers.get("Location", "").startswith("/login"), f"{url} was not examined"
            leaks = [m.group(0) for m in re.finditer(r".{0,60}(?:4,?817|THEIRS-SECRET|south-voices).{0,20}", body)]
            assert not leaks, f"{url} shows their data: {leaks[:3]}"
            examined.append(url.split("?")[0])
    assert {"/_dash-update-component", "/_dash-layout", "/", "/report"} <= set(examined)
    assert any(url.startswith("/you/") for url in examined)
    assert sum(url.startswith("/export/") for url in examined) >= 10
    for page in shell.PAGES:  # every page's callback too
        response = client.post("/_dash-update-component", json=shell.callback_body(page.path, period))
        assert response.status_code == (200 if reads else 403), page.path
        leaks = re.findall(r".{0,60}(?:4,?817|THEIRS-SECRET|south-voices).{0,20}", response.get_data(as_text=True))
        assert not leaks, f"{page.path} shows their data: {leaks[:3]}"
    if reads:
        figures = post_overview(client, DAY - timedelta(days=40), DAY)
        assert figures["contributions"] == "1", "our one contribution, not their figures"
