"""Subject access: everything held about one participant, as JSON and as CSV, and nobody else's data.

The same involvement as the feedback staff tests (tests/ingest/test_feedback_staff.py), on real read models
(SQLite and PostgreSQL), the real event log and the real processor.
"""

from __future__ import annotations

import csv
import io
import json
from datetime import UTC, datetime
from typing import Any

import pytest
from flask.testing import FlaskClient
from sqlalchemy import Engine

from impact.eventlog import EventLog
from impact.feedback import links
from impact.feedback.outbox import State
from impact.settings import Settings
from processors.quality import QualityGate
from schemas.readmodels import DeadLetter
from tests.factories import csrf_from
from tests.ingest.feedback_world import (
    ANN_SAID,
    BEA_SAID,
    HOSTILE,
    JOINT_SAID,
    ORG,
    OTHER,
    THEIRS,
    World,
    build_world,
    event,
    notice,
)


@pytest.fixture
def world(settings: Settings, engine: Engine, event_log: EventLog, gate: QualityGate) -> World:
    return build_world(settings, engine, event_log, gate)


@pytest.fixture
def staff(world: World) -> FlaskClient:
    return world.client(f"staff@{ORG}.example.org")


def export(client: FlaskClient, pid: str, kind: str) -> Any:
    response = client.get(f"/staff/participants/{pid}/export.{kind}")
    assert response.status_code == 200, response.status_code
    assert response.headers["Cache-Control"] == "no-store"
    disposition = response.headers["Content-Disposition"]
    assert disposition.startswith("attachment;") and f"subject-access-{pid}-" in disposition
    return response


def dead_letter(world: World, text: str) -> None:
    """A contribution of Ann's and Bea's that was refused (a dead letter naming both)."""
    refused = event(
        "contribution.made",
        {"contribution_id": "c-late", "participant_ids": ["p-bea", "p-ann"], "area": "support", "text": text},
    )
    with world.engine.begin() as conn:
        conn.execute(
            DeadLetter.__table__.insert().values(  # type: ignore[attr-defined]
                event_id=str(refused.event_id),
                org_id=ORG,
                type="contribution.made",
                expectation="activity_known",
                reason="The activity a-gone is not known.",
                event_json=refused.model_dump_json(),
                log_partition=0,
                log_offset=99,
                dead_at=datetime.now(UTC),
            )
        )


def prepare(world: World, staff: FlaskClient) -> str:
    """Feedback, an outbox item and a private link for Ann; returns the link's token."""
    world.add_item("p-ann", "ch-1", State.failed, channel="email", attempts=3, last_error="451 try later")
    response = staff.post(
        "/staff/feedback/told/p-ann/ch-1", data={"csrf_token": csrf_from(staff, "/staff/"), "how": "phone"}
    )
    assert "Recorded" in notice(staff, response)
    world.process()
    dead_letter(world, "Bea and Ann said this late")
    with world.engine.begin() as conn:
        token, _ = links.create(conn, secret_key="k" * 40, org_id=ORG, participant_id="p-ann", days=30)
    return token


def test_the_json_export_holds_everything_about_the_person_and_nobody_else(world: World, staff: FlaskClient) -> None:
    token = prepare(world, staff)
    response = export(staff, "p-ann", "json")
    assert response.mimetype == "application/json"
    text = response.get_data(as_text=True)
    document = json.loads(text)
    assert list(document) == [
        "about",
        "register",
        "attendances",
        "contributions",
        "feedback_sent",
        "feedback_outbox",
        "private_links",
        "records_needing_attention",
        "records_waiting",
    ]
    register = document["register"]
    assert (register["display_name"], register["email"], register["consent_to_contact"]) == (
        "Ann Email",
        "ann@example.org",
        True,
    )
    assert (register["preferred_channel"], register["feedback_frequency"], register["erased"]) == (
        "email",
        "each_change",
        False,
    )
    assert "registered_at" in register and "age_band" in register
    [attended] = document["attendances"]
    assert (attended["activity_title"], attended["hours"], attended["role_in_session"]) == (
        "Carers' panel",
        2,
        "speaker",
    )
    said = {c["contribution_id"]: c for c in document["contributions"]}
    assert set(said) == {"c-ann", "c-joint"}
    assert said["c-ann"]["text"] == ANN_SAID and said["c-ann"]["made_with_others"] is False
    assert said["c-joint"]["text"] == JOINT_SAID and said["c-joint"]["made_with_others"] is True
    [change] = said["c-ann"]["changes"]
    assert (change["change_id"], change["status"], change["influence"]) == ("ch-1", "agreed", "major")
    assert [(f["change_id"], f["channel"]) for f in document["feedback_sent"]] == [("ch-1", "phone")]
    [item] = document["feedback_outbox"]
    assert (item["state"], item["channel"], item["attempts"], item["last_error"]) == (
        "given",
        "phone",
        3,
        "451 try later",
    )
    [link] = document["private_links"]
    assert set(link) == {"created_at", "expires_at", "revoked_at"} and link["revoked_at"] is None
    [refused] = document["records_needing_attention"]
    assert refused["participant_ids"] == ["p-ann"] and refused["text"] == "Bea and Ann said this late"
    assert document["records_waiting"] == []
    for absent in (token, "p-bea", "Bea Post", BEA_SAID, "p-cal", HOSTILE, "Dee", THEIRS, "their-ann", "k" * 40):
        assert absent not in text, f"{absent!r} is not Ann's"


def test_the_csv_export_is_long_format_and_formula_safe(world: World, staff: FlaskClient) -> None:
    token = prepare(world, staff)
    response = export(staff, "p-ann", "csv")
    assert response.mimetype == "text/csv"
    text = response.get_data(as_text=True).removeprefix("\ufeff")
    rows = list(csv.reader(io.StringIO(text)))
    assert rows[0] == ["section", "record", "field", "value"]
    cells = {(section, field): value for section, _record, field, value in rows[1:]}
    assert cells[("register", "display_name")] == "Ann Email" and cells[("register", "email")] == "ann@example.org"
    texts = [value for section, _r, field, value in rows if section == "contributions" and field == "text"]
    assert ANN_SAID in texts and "'" + JOINT_SAID in texts, "a cell that would start a formula is written as text"
    assert not any(value.startswith(("=", "+", "@")) for row in rows for value in row)
    assert ("contributions", "changes.1.title") in cells and cells[("feedback_sent", "channel")] == "phone"
    assert cells[("records_needing_attention", "participant_ids.1")] == "p-ann"
    for absent in (token, "p-bea", "Bea Post", BEA_SAID, HOSTILE, THEIRS):
        assert absent not in text


def test_the_export_is_of_this_organisation_only(world: World, staff: FlaskClient) -> None:
    """Both organisations have a p-ann: each sees its own, and another's participant is not found."""
    ours = json.loads(export(staff, "p-ann", "json").get_data(as_text=True))
    assert ours["register"]["display_name"] == "Ann Email" and ours["about"]["organisation"] == "Mind Leeds"
    theirs = world.client(f"staff@{OTHER}.example.org")
    their_export = export(theirs, "p-ann", "json").get_data(as_text=True)
    assert THEIRS in their_export and "Ann Email" not in their_export and ANN_SAID not in their_export
    for pid in ("p-bea", "p-cal"):
        for kind in ("json", "csv"):
            assert theirs.get(f"/staff/participants/{pid}/export.{kind}").status_code == 404
    assert staff.get("/staff/participants/p-nobody/export.json").status_code == 404


def test_leadership_and_signed_out_people_cannot_export(world: World) -> None:
    leader = world.client(f"leadership@{ORG}.example.org")
    for kind in ("json", "csv"):
        assert leader.get(f"/staff/participants/p-ann/export.{kind}").status_code == 403
        response = world.app.test_client().get(f"/staff/participants/p-ann/export.{kind}")
        assert response.status_code == 302 and response.headers["Location"].startswith("/login")


def test_an_erased_person_s_export_shows_what_is_left(world: World, staff: FlaskClient) -> None:
    from impact.eventlog.recording import record

    record(
        world.event_log,
        world.settings.topic,
        [event("participant.erased", {"participant_id": "p-ann"}, day=datetime.now(UTC).date())],
        recorded_by="test",
        engine=world.engine,
    )
    world.process()
    text = export(staff, "p-ann", "json").get_data(as_text=True)
    document = json.loads(text)
    assert document["register"]["erased"] is True and document["register"]["display_name"] is None
    assert "Ann Email" not in text and "ann@example.org" not in text
