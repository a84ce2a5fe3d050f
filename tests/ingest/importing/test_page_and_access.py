"""Spreadsheet import: the page and its templates, and who may import what (CSRF, roles, organisations)."""

from __future__ import annotations

import csv
import io

from flask import Flask
from flask.testing import FlaskClient
from sqlalchemy import Engine

from impact.eventlog import EventLog
from impact.settings import Settings
from ingest import importing
from ingest.importing import Kind
from processors.quality import QualityGate
from schemas.readmodels import Attendance, Contribution, Participant
from tests.factories import add_organisation, csrf_from, process_all, sign_in
from tests.ingest.importing.helpers import (
    ATTENDANCE,
    ATTENDANCE_HEADER,
    PAGE,
    PEOPLE,
    PEOPLE_HEADER,
    as_csv,
    imported,
    no_dead_letters,
    rows_of,
    send,
    stored,
)

# --- Templates -------------------------------------------------------------------------------------


def test_templates_download_and_import_cleanly_once_filled(
    staff: FlaskClient, engine: Engine, settings: Settings, gate: QualityGate
) -> None:
    extra = {
        Kind.participants: ["P0002", "Alex Doe", "Service user", "", "", "", "no", "", "", "", "", "", ""],
        Kind.attendance: ["A0001", "", "", "", "", "", "P0002", "1", ""],
        Kind.contributions: ["", "P0001;P0002", "", "Training", "2026-03-28", "More breaks, please."],
    }
    for kind in Kind:
        response = staff.get(f"/staff/import/templates/{kind.value}.csv")
        assert response.status_code == 200
        assert response.mimetype == "text/csv"
        assert response.headers["Content-Disposition"] == f'attachment; filename="{kind.value}-template.csv"'
        text = response.get_data().decode("utf-8-sig")
        header, example = list(csv.reader(io.StringIO(text)))
        assert header == [column.name for column in importing.COLUMNS[kind]]
        assert len(example) == len(header)
        filled = response.get_data() + as_csv(extra[kind], [])  # the template, with one more row
        imported(staff, filled, f"{kind.value}.csv")
        process_all(settings, engine, gate)
    assert len(rows_of(engine, Participant)) == 2
    assert len(rows_of(engine, Attendance)) == 2
    assert len(rows_of(engine, Contribution)) == 2
    no_dead_letters(engine)
    assert staff.get("/staff/import/templates/nonsense.csv").status_code == 404


def test_the_page_describes_every_column_and_links_the_templates(staff: FlaskClient) -> None:
    html = staff.get(PAGE).get_data(as_text=True)
    for kind in Kind:
        assert f'href="/staff/import/templates/{kind.value}.csv"' in html
        for column in importing.COLUMNS[kind]:
            assert f"<code>{column.name}</code>" in html
    assert "<legend>What does the file hold?</legend>" in html
    assert 'enctype="multipart/form-data"' in html and 'accept=".csv,.xlsx' in html
    assert 'aria-describedby="file-hint"' in html
    assert "Promoting diversity" in html  # the allowed values are spelled out


def test_the_page_says_a_long_upload_is_under_way_with_its_own_script(staff: FlaskClient) -> None:
    response = staff.get(PAGE)
    html = response.get_data(as_text=True)
    assert "default-src 'self'" in response.headers["Content-Security-Policy"]  # no inline script allowed
    assert '<script src="/static/import.js" defer></script>' in html
    assert "data-import-form" in html
    assert '<p class="hint" id="import-status" role="status"></p>' in html  # empty until JS fills it
    script = staff.get("/static/import.js")
    assert script.status_code == 200 and "javascript" in (script.mimetype or "")
    text = script.get_data(as_text=True)
    script.close()
    assert "Checking and importing\\u2026 this can take a minute for large files." in text
    assert "button.disabled = true" in text and 'getElementById("import-status")' in text


def test_csrf_is_required(staff: FlaskClient, event_log: EventLog, settings: Settings) -> None:
    response = staff.post(
        PAGE,
        data={"kind": "detect", "file": (io.BytesIO(as_csv(["display_name", "role"], [["A", "carer"]])), "m.csv")},
        content_type="multipart/form-data",
    )
    assert response.status_code == 400
    assert stored(event_log, settings) == []


def test_only_staff_and_admins_may_import(
    app: Flask, emails: dict[str, str], settings: Settings, event_log: EventLog
) -> None:
    anonymous = app.test_client()
    assert anonymous.get(PAGE).status_code == 302
    leader = app.test_client()
    sign_in(leader, emails["leadership"])
    assert leader.get(PAGE).status_code == 403
    assert leader.get("/staff/import/templates/participants.csv").status_code == 403
    # A valid token (from a page leadership may see), so it is the role that refuses, not CSRF.
    token = csrf_from(leader, "/")
    response = leader.post(
        PAGE,
        data={"csrf_token": token, "kind": "detect", "file": (io.BytesIO(as_csv(PEOPLE_HEADER, PEOPLE)), "m.csv")},
        content_type="multipart/form-data",
    )
    assert response.status_code == 403
    assert stored(event_log, settings) == []
    admin = app.test_client()
    sign_in(admin, emails["admin"])
    assert admin.get(PAGE).status_code == 200


def test_the_register_read_is_the_signed_in_persons_organisation_only(
    app: Flask, staff: FlaskClient, engine: Engine, settings: Settings, event_log: EventLog, gate: QualityGate
) -> None:
    york = app.test_client()
    sign_in(york, add_organisation(engine, "mind-york")["staff"])
    imported(york, as_csv(PEOPLE_HEADER, PEOPLE), "members.csv")
    process_all(settings, engine, gate)
    assert {e.org_id for e in stored(event_log, settings)} == {"mind-york"}
    assert rows_of(engine, Participant) == []  # nothing in mind-leeds
    # York's people are not Leeds's: Leeds cannot record their attendance, and may use the same IDs.
    response = send(staff, as_csv(ATTENDANCE_HEADER, ATTENDANCE[:1]), "forum.csv")
    assert "Line 2: participant_id: &#39;P1&#39; is not registered with your organisation" in response.get_data(
        as_text=True
    )
    imported(staff, as_csv(PEOPLE_HEADER, PEOPLE), "members.csv")  # the same IDs are free in Leeds
    process_all(settings, engine, gate)
    assert len(rows_of(engine, Participant)) == 3
    no_dead_letters(engine)
