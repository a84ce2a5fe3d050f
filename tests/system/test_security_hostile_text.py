"""Hostile free text, end to end (issue 7): markup, spreadsheet formulas, very long and non-Latin text.

Every string of CORPUS is recorded through the real API and the staff forms into every free-text field
(participants' names and postal addresses, what they said, activity titles, change titles and
descriptions, status notes), and into the names people choose for an organisation, an account and an API
token. The processor folds it into the read models; the feedback sender e-mails it; staff print it as
letters. Then it is read back from every surface:

- every staff page of the ingest service (enumerated from its URL map, each record's pages for each string),
- the dashboard's layout and every page's callback, its annual report, and each participant's own page,
- the feedback e-mails (both parts and their headers) and the printed letters,
- every CSV export of the dashboard and every participant's subject-access CSV.

HTML never carries the markup as markup, and no CSV cell starts with = + - @ tab or CR unless it is a number.
"""

from __future__ import annotations

import json
import re
from dataclasses import dataclass
from email import message_from_bytes, policy
from email.message import EmailMessage
from email.utils import getaddresses
from typing import Any, cast

import pytest
from flask import Flask
from flask.testing import FlaskClient
from markupsafe import escape
from sqlalchemy import Engine
from sqlmodel import Session, select

from dashboard import create_app as create_dashboard
from impact.auth.accounts import Organisation, StaffAccount
from impact.auth.tokens import ApiToken
from impact.eventlog import EventLog
from impact.feedback import links
from impact.settings import Settings
from ingest import create_app
from processors.feedback import FeedbackSender
from processors.quality import QualityGate
from schemas.readmodels import Attendance
from tests.factories import add_organisation, issue_token, process_all, sign_in
from tests.system.hostile_text import (
    CORPUS,
    DECIDED,
    HOSTILE_ORG_NAME,
    KEYS,
    LONG,
    ORG,
    PERIOD,
    api_events,
    assert_safe_csv,
    assert_safe_dash,
    assert_safe_html,
    dead_letter_id,
    fit,
    form_post,
    stored,
    strings_in,
)
from tests.system.test_isolation import _dashboard_tables

pytestmark = pytest.mark.timeout(280)

# --- The world -----------------------------------------------------------------------------------


@dataclass
class World:
    app: Flask
    dashboard: Flask
    settings: Settings
    engine: Engine
    event_log: EventLog
    admin: FlaskClient
    reader: FlaskClient
    sent: int


@pytest.fixture
def world(settings: Settings, engine: Engine, event_log: EventLog, gate: QualityGate) -> World:
    add_organisation(engine, ORG, name="Placeholder")
    with Session(engine) as session:  # names people choose, as hostile as the rest (an operator names an org)
        organisation = session.get(Organisation, ORG)
        reader = session.exec(select(StaffAccount).where(StaffAccount.email == f"leadership@{ORG}.example.org")).one()
        assert organisation is not None
        organisation.name = HOSTILE_ORG_NAME
        reader.name = fit(CORPUS["script"] + CORPUS["attribute"], "name")
        session.add_all([organisation, reader])
        session.commit()
    issue_token(engine, ORG, name=CORPUS["attribute"])
    secret = issue_token(engine, ORG, name=CORPUS["html"][:120])
    app = create_app(settings, event_log, test_config={"TESTING": True}, engine=engine)
    admin = app.test_client()
    sign_in(admin, f"admin@{ORG}.example.org")

    # The API: a 20,000-character text is refused, field by field, with a 422 (never stored, never a 5xx).
    api = app.test_client()
    bearer = {"Authorization": f"Bearer {secret}"}
    too_long = [dict(e, payload=_too_long(e["payload"])) for e in api_events(0, "x")[:6]]
    refused = api.post("/api/v1/events", json=too_long, headers=bearer)
    assert refused.status_code == 422, refused.get_data(as_text=True)[:300]
    assert len(refused.get_json()["errors"]) >= 7, refused.get_json()["errors"]

    # The postal participants through the staff form; everything else through the API.
    for i, value in enumerate(CORPUS.values()):
        fields: dict[str, Any] = {
            "display_name": fit(value, "name"),
            "participant_id": f"q-{i}",
            "role": "patient",
            "email": "",
            "phone": "",
            "postal_address": fit(value, "address"),
            "consent_to_contact": "yes",
            "preferred_channel": "post",
            "feedback_frequency": "each_change",
        }
        response = form_post(admin, "/staff/participants/new", fields)
        assert response.status_code == 302, (KEYS[i], response.get_data(as_text=True)[:500])
    batch = [event for i, value in enumerate(CORPUS.values()) for event in api_events(i, value)]
    response = api.post("/api/v1/events", json=batch, headers=bearer)
    assert response.status_code == 202, response.get_data(as_text=True)[:500]
    process_all(settings, engine, gate, batch_size=500)
    # What people said, through the contribution form too (linked to nothing, shown on their pages).
    for i, value in enumerate(CORPUS.values()):
        fields = {
            "participants": [f"p-{i}"],
            "activity_id": f"a-{i}",
            "area": "support",
            "made_on": str(DECIDED),
            "text": fit(value, "said"),
        }
        response = form_post(admin, "/staff/contributions/new", fields)
        assert response.status_code == 302, (KEYS[i], response.get_data(as_text=True)[:500])
    process_all(settings, engine, gate, batch_size=500)

    done = FeedbackSender.for_settings(settings, engine=engine, event_log=event_log).tick()
    assert not done.errors, done.errors
    process_all(settings, engine, gate, batch_size=500)

    dashboard = create_dashboard(settings, engine).server
    reader = dashboard.test_client()
    sign_in(reader, f"leadership@{ORG}.example.org")
    return World(app, dashboard, settings, engine, event_log, admin, reader, done.sent)


def _too_long(payload: dict[str, Any]) -> dict[str, Any]:
    long = {"display_name", "title", "text", "description", "note"}
    changed = {key: (LONG if key in long else value) for key, value in payload.items()}
    if "contact" in changed:
        changed["contact"] = {"email": "x@example.org", "postal_address": LONG}
    return changed


# --- The staff pages -----------------------------------------------------------------------------


def _filled(world: World, i: int) -> dict[str, Any]:
    with Session(world.engine) as session:
        account = session.exec(select(StaffAccount).where(StaffAccount.email == f"leadership@{ORG}.example.org")).one()
        token = session.exec(select(ApiToken).where(ApiToken.org_id == ORG)).first()
        assert token is not None
        attendance = session.exec(
            select(Attendance).where(Attendance.org_id == ORG, Attendance.activity_id == f"a-{i}")
        ).first()
    return {
        "contribution_id": f"c-{i}",
        "attendance_id": attendance.event_id if attendance else "none",
        "participant_id": f"p-{i}" if i % 2 == 0 else f"q-{i}",
        "activity_id": f"a-{i}",
        "change_id": f"ch-{i}",
        "event_id": dead_letter_id(i),
        "account_id": account.id,
        "token_id": token.id,
        "kind": "participants",
    }


# a record of corpus string i
RECORD_ARGUMENTS = {"participant_id", "activity_id", "change_id", "event_id", "contribution_id", "attendance_id"}


def shown(value: str) -> set[str]:
    """The forms a page may show `value` in, every one escaped: as typed (trimmed, or the start of the long
    text, which pages may shorten), or quoted as JSON (a dead letter shows the event it refused)."""
    text = stored(value)[:100] if value is LONG else stored(value)
    quoted = {json.dumps(text, ensure_ascii=ascii)[1:-1] for ascii in (True, False)}
    return {str(escape(form)) for form in {text, *quoted}}


def check_staff_pages(world: World) -> None:
    pages = 0
    for rule in world.app.url_map.iter_rules():
        if rule.endpoint == "static" or "GET" not in (rule.methods or set()) or rule.rule.startswith("/api/"):
            continue
        if "batch_id" in rule.arguments:
            continue  # a printed batch of letters: check_letters_and_previews opens the one it prints
        for i, value in enumerate(CORPUS.values()) if rule.arguments else [(0, "")]:
            built = rule.build(_filled(world, i), append_unknown=False)
            assert built is not None, rule.rule
            url = built[1]
            response = world.admin.get(url)
            record = bool(rule.arguments & RECORD_ARGUMENTS)
            if rule.arguments:  # every record named exists: its page is found, never a 404
                assert response.status_code == 200, (url, response.status_code)
            else:
                assert response.status_code < 500, url
            if response.mimetype != "text/html":
                continue
            body = response.get_data(as_text=True)
            assert_safe_html(body, url)
            if record:  # the record's text is on its page, escaped: rendered, not lost, not mangled
                assert any(form in body for form in shown(value)), (KEYS[i], url)
            pages += response.status_code == 200
    assert pages >= 150, pages


def check_letters_and_previews(world: World) -> None:
    listing = world.admin.get("/staff/feedback/letters")
    assert listing.status_code == 200
    assert_safe_html(listing.get_data(as_text=True), "/staff/feedback/letters")
    items = re.findall(r'name="item" value="([^"]+)"', listing.get_data(as_text=True))
    assert len(items) >= len(CORPUS), "a letter for every postal participant"
    token = re.search(r'name="csrf_token" value="([^"]+)"', listing.get_data(as_text=True))
    assert token
    printed = world.admin.post(
        "/staff/feedback/letters/print", data={"csrf_token": token.group(1), "item": items}, follow_redirects=True
    )
    assert printed.status_code == 200 and printed.request.path.startswith("/staff/feedback/letters/batch/")
    body = printed.get_data(as_text=True)
    assert_safe_html(body, "printed letters")
    assert str(escape(stored(CORPUS["script"]))) in body and "&lt;script&gt;" in body
    assert "مرحبا" in body and "你好" in body and "\u202e" in body
    for i in range(len(CORPUS)):
        preview = world.admin.get(f"/staff/feedback/preview/q-{i}/ch-{i}")
        assert preview.status_code == 200, i
        assert_safe_html(preview.get_data(as_text=True), f"preview {KEYS[i]}")


# --- The feedback e-mails ------------------------------------------------------------------------


def _mails(world: World) -> list[tuple[bytes, EmailMessage]]:
    """Each e-mail as written (its raw bytes) and as a mail program reads it."""
    folder = world.settings.data_dir / "mail"
    raw = [path.read_bytes() for path in sorted(folder.glob("*.eml"))]
    return [(data, cast(EmailMessage, message_from_bytes(data, policy=policy.default))) for data in raw]


# The headers the feedback sender writes; anything else at the start of a line is a header of theirs.
MAIL_HEADERS = {
    "subject",
    "from",
    "to",
    "message-id",
    "auto-submitted",
    "mime-version",
    "content-type",
    "content-transfer-encoding",
    "date",
}


def raw_headers(data: bytes) -> list[tuple[str, str]]:
    """The top-level header fields of a raw message, unfolded, read line by line as a mail server would.

    Every line before the blank line must be a continuation (it starts with a space or a tab) or a
    `Name: value` line of a header the sender writes: a CR or LF that got into a value would start a line
    of its own, and so a header of theirs. Parsing with policy.default cannot show this: it unfolds and
    strips line breaks when a header is read back."""
    lines = re.split(rb"\r\n|\r|\n", data)
    fields: list[tuple[str, str]] = []
    for line in lines[: lines.index(b"")]:
        text = line.decode("utf-8", errors="replace")
        if text[:1] in (" ", "\t"):
            assert fields, f"a continuation before any header: {text!r}"
            fields[-1] = (fields[-1][0], fields[-1][1] + text)
            continue
        name, colon, value = text.partition(":")
        assert colon and name.lower() in MAIL_HEADERS, f"a header line of theirs: {text[:120]!r}"
        fields.append((name.lower(), value.strip()))
    return fields


def check_e_mails(world: World) -> None:
    mails = _mails(world)
    assert world.sent == len(CORPUS) == len(mails), (world.sent, len(mails))
    seen_text = ""
    for data, mail in mails:
        fields = raw_headers(data)
        names = [name for name, _ in fields]
        assert all(names.count(name) == 1 for name in ("from", "to", "subject")), names
        assert not {"bcc", "cc", "reply-to"} & set(names), "no header of theirs"
        raw_to = dict(fields)["to"]
        recipients = getaddresses([raw_to])
        assert len(recipients) == 1, f"To names exactly one address: {raw_to!r}"
        assert re.fullmatch(r"p\d+@example\.org", recipients[0][1]), raw_to
        addresses = {
            address for _, address in getaddresses([value for name, value in fields if name in {"from", "to"}])
        }
        assert "evil@example.org" not in addresses, fields
        # and as a mail program reads it
        assert mail["Bcc"] is None and mail["Cc"] is None, "no header of theirs"
        assert [re.fullmatch(r"p\d+@example\.org", a.addr_spec) is not None for a in mail["To"].addresses] == [True]
        assert len(mail["From"].addresses) == 1, mail["From"]
        # the organisation's hostile name reached the header, kept to one line: the raw check above saw it
        assert "Charity Bcc" in str(mail["From"]), mail["From"]
        html_part = mail.get_body(("html",))
        text_part = mail.get_body(("plain",))
        assert html_part is not None and text_part is not None
        assert_safe_html(html_part.get_content(), f"e-mail to {mail['To']}")
        seen_text += text_part.get_content()
    assert "<script>alert(1)</script>" in seen_text, "the plain-text part quotes them as typed"
    assert "你好" in seen_text and "مرحبا" in seen_text


# --- The dashboard -------------------------------------------------------------------------------


def check_dashboard(world: World) -> None:
    from dashboard import shell

    layout = world.reader.get("/_dash-layout")
    assert layout.status_code == 200
    assert_safe_dash(layout.get_json(), "layout")
    data: list[str] = []  # every string of every page's callback
    for page in shell.PAGES:
        response = world.reader.post("/_dash-update-component", json=shell.callback_body(page.path, PERIOD))
        assert response.status_code == 200, page.path
        assert_safe_dash(response.get_json(), page.path)
        data += strings_in(response.get_json())
    for key in ("script", "attribute", "html", "arabic", "cjk"):  # shown as JSON strings, which React shows as text
        value = fit(CORPUS[key], "title")
        assert any(value in text for text in data), f"the dashboard shows {key} as data"
    assert not any("&lt;" in text or "&#34;" in text for text in data), "as text, not as escaped HTML"
    for path in ("/", "/report" + PERIOD):
        response = world.reader.get(path)
        assert response.status_code == 200, path
        assert_safe_html(response.get_data(as_text=True), path)
    report = world.reader.get("/report" + PERIOD).get_data(as_text=True)
    assert "&lt;script&gt;" in report or "Evil" in report, "the report names the organisation, escaped"
    visitor = world.dashboard.test_client()
    for i, value in enumerate(CORPUS.values()):
        for pid in (f"p-{i}", f"q-{i}"):
            with world.engine.begin() as conn:
                token, _ = links.create(
                    conn, secret_key=world.settings.signing_key, org_id=ORG, participant_id=pid, days=1
                )
            response = visitor.get(f"/you/{token}")
            assert response.status_code == 200, (KEYS[i], pid)
            body = response.get_data(as_text=True)
            assert_safe_html(body, f"/you/ of {pid}")
            if value is not LONG:
                assert str(escape(stored(value))) in body, (KEYS[i], pid)


# --- CSV -----------------------------------------------------------------------------------------


FORMULAS = ("hyperlink", "dde", "at-sum", "minus", "tab")


def assert_neutralised(cells: list[str], where: str) -> None:
    for formula in FORMULAS:
        value = "'" + stored(CORPUS[formula])
        assert any(cell.startswith(value) for cell in cells), f"{where}: {formula} was exported, neutralised"


def check_csv(world: World) -> None:
    exported = 0
    dashboard: list[str] = []
    for page, table in _dashboard_tables(world.reader, PERIOD):
        response = world.reader.get(f"/export/{page.slug}/{table}.csv{PERIOD}")
        assert response.status_code == 200, (page.slug, table)
        dashboard += assert_safe_csv(response.get_data(as_text=True), f"{page.slug}/{table}.csv")
        exported += 1
    assert exported >= 10
    assert_neutralised(dashboard, "the dashboard's CSV exports")
    subject_access: list[str] = []
    for i in range(len(CORPUS)):
        for pid in (f"p-{i}", f"q-{i}"):
            response = world.admin.get(f"/staff/participants/{pid}/export.csv")
            assert response.status_code == 200, pid
            subject_access += assert_safe_csv(response.get_data(as_text=True), f"subject access of {pid}")
            data = world.admin.get(f"/staff/participants/{pid}/export.json")
            assert data.status_code == 200 and json.loads(data.get_data(as_text=True)), pid
    assert_neutralised(subject_access, "the subject-access CSVs")


# --- The test ------------------------------------------------------------------------------------


def test_hostile_text_is_text_on_every_surface(world: World) -> None:
    """One world per database (building it takes most of the time), examined surface by surface."""
    check_staff_pages(world)
    check_letters_and_previews(world)
    check_e_mails(world)
    check_dashboard(world)
    check_csv(world)
