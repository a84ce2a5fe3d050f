"""The pure fold: hand-built accepted events in, exactly the expected rows and patches out."""

from __future__ import annotations

import uuid
from datetime import UTC, date, datetime
from typing import Any

import pytest

from processors.projection import ERASED_FIELDS, Projection, project
from schemas import events as ev
from schemas.readmodels import (
    Activity,
    Attendance,
    Change,
    ChangeLink,
    Contribution,
    ContributionParticipant,
    Feedback,
    Participant,
    RecordVersion,
)

ORG = "org-a"
AT = "2026-03-14T10:00:00+00:00"
WHEN = datetime(2026, 3, 14, 10, tzinfo=UTC)
DAY = date(2026, 3, 14)
E1, E2 = str(uuid.UUID(int=1)), str(uuid.UUID(int=2))


def stored(type_: str, payload: dict[str, Any], *, at: str = AT, org: str = ORG, eid: str | None = None) -> Any:
    raw = {"type": type_, "org_id": org, "occurred_at": at, "payload": payload}
    if eid:
        raw["event_id"] = eid
    event = ev.StoredEvent.accept(ev.EVENT_ADAPTER.validate_python(raw), recorded_by="t")
    return event, event.typed_payload()


def fold(*events: Any) -> Projection:
    return project(events)


REGISTERED = {"participant_id": "p-1", "display_name": "Asha", "role": "carer"}
FULL_REGISTRATION = {
    **REGISTERED,
    "contact": {"email": "asha@example.org", "phone": "01234 567890", "postal_address": "1 High St"},
    "consent_to_contact": True,
    "preferred_channel": "email",
    "demographics": {
        "age_band": "35_44",
        "gender": "woman",
        "ethnicity": "asian",
        "disability": "no",
        "region": "wales",
    },
}
PARTICIPANT_ROW = {
    "org_id": ORG,
    "participant_id": "p-1",
    "display_name": "Asha",
    "role": "carer",
    "email": "asha@example.org",
    "phone": "01234 567890",
    "postal_address": "1 High St",
    "consent_to_contact": True,
    "preferred_channel": "email",
    "feedback_frequency": "each_change",
    "age_band": "35_44",
    "gender": "woman",
    "ethnicity": "asian",
    "disability": "no",
    "region": "wales",
    "registered_at": WHEN,
    "erased": False,
}
BLANK = dict.fromkeys(("email", "phone", "postal_address", "preferred_channel"), None)
BLANK_DEMOGRAPHICS = dict.fromkeys(("age_band", "gender", "ethnicity", "disability", "region"), None)
CHANGE = {"change_id": "ch-1", "area": "research", "title": "Evening sessions", "description": "We moved them."}
CHANGE_ROW = {
    "org_id": ORG,
    "change_id": "ch-1",
    "area": "research",
    "title": "Evening sessions",
    "description": "We moved them.",
    "status": "proposed",
    "status_note": None,
    "recorded_on": DAY,
    "decided_on": None,
}
P1 = (ORG, "p-1")


def case(events: list[Any], *, rows: Any = None, patches: Any = (), name: str) -> Any:
    return pytest.param(events, rows or {}, list(patches), id=name)


HELD = dict(
    activity_id="a-1", title="Forum", area="governance", level="user_led", date="2026-02-27", duration_hours=2.5
)
ACTIVITY_ROW = dict(
    org_id=ORG,
    activity_id="a-1",
    title="Forum",
    area="governance",
    level="user_led",
    held_on=date(2026, 2, 27),
    duration_hours=2.5,
)
ATTENDED = {"activity_id": "a-1", "participant_id": "p-1", "hours": 1.5}
ATTENDANCE_ROW = dict(ATTENDED, event_id=E1, org_id=ORG, session_role="attendee", attended_on=DAY)
SAID = {"contribution_id": "c-1", "participant_ids": ["p-1", "p-2"], "area": "support", "text": "More breaks."}
CONTRIBUTION_ROW = dict(
    org_id=ORG, contribution_id="c-1", activity_id=None, area="support", text="More breaks.", made_on=DAY
)
LINKS = [{"contribution_id": "c-1", "strength": "major"}, {"contribution_id": "c-2", "strength": "minor"}]
DECIDED = {**CHANGE, "status": "agreed", "decided_on": "2026-03-12", "links": LINKS}
SENT = {"participant_id": "p-1", "change_ids": ["ch-1", "ch-2"], "channel": "post"}
CH1 = (ORG, "ch-1")


def status(value: str, note: str | None = None) -> Any:
    return stored("change.status_changed", {"change_id": "ch-1", "status": value, "note": note})


CASES = [
    case([stored("participant.registered", FULL_REGISTRATION)], rows={Participant: {P1: PARTICIPANT_ROW}}, name="reg"),
    case(
        [stored("participant.registered", REGISTERED)],
        rows={Participant: {P1: {**PARTICIPANT_ROW, **BLANK, **BLANK_DEMOGRAPHICS, "consent_to_contact": False}}},
        name="reg-minimal",
    ),
    case(
        [stored("participant.consent_changed", {"participant_id": "p-1", "consent": False})],
        patches=[(Participant, P1, {"consent_to_contact": False})],
        name="consent",
    ),
    case(
        [stored("participant.consent_changed", {"participant_id": "p-1", "consent": True, "channel": "post"})],
        patches=[(Participant, P1, {"consent_to_contact": True, "preferred_channel": "post"})],
        name="consent-channel",
    ),
    case(
        [stored("participant.erased", {"participant_id": "p-1"})],
        patches=[
            (
                Participant,
                P1,
                {
                    **BLANK,
                    **BLANK_DEMOGRAPHICS,
                    "display_name": None,
                    "consent_to_contact": False,
                    "feedback_frequency": "each_change",
                    "erased": True,
                },
            )
        ],
        name="erased",
    ),
    case(  # the month is the activity's date, not the day it was recorded
        [stored("activity.held", HELD)],
        rows={Activity: {(ORG, "a-1"): ACTIVITY_ROW}},
        name="activity",
    ),
    case(
        [stored("session.attended", ATTENDED, eid=E1)],
        rows={Attendance: {(E1,): ATTENDANCE_ROW}},
        name="attended",
    ),
    case(
        [stored("contribution.made", SAID)],
        rows={
            Contribution: {(ORG, "c-1"): CONTRIBUTION_ROW},
            ContributionParticipant: {
                (ORG, "c-1", pid): dict(org_id=ORG, contribution_id="c-1", participant_id=pid) for pid in ("p-1", "p-2")
            },
        },
        name="contribution",
    ),
    case(
        [stored("change.recorded", DECIDED)],
        rows={
            Change: {CH1: {**CHANGE_ROW, "status": "agreed", "decided_on": date(2026, 3, 12)}},
            ChangeLink: {(*CH1, link["contribution_id"]): dict(link, org_id=ORG, change_id="ch-1") for link in LINKS},
        },
        name="change",
    ),
    case(
        [status("declined", "No budget.")],
        patches=[(Change, CH1, {"status": "declined", "status_note": "No budget.", "decided_on": DAY})],
        name="declined",
    ),
    case(
        [status("implemented")],
        patches=[(Change, CH1, {"status": "implemented", "status_note": None, "decided_on": DAY})],
        name="implemented",
    ),
    case(
        [status("proposed")],
        patches=[(Change, CH1, {"status": "proposed", "status_note": None, "decided_on": None})],
        name="back-to-proposed",
    ),
    case(
        [stored("feedback.sent", SENT, eid=E2)],
        rows={
            Feedback: {
                (E2, cid): dict(
                    event_id=E2, change_id=cid, org_id=ORG, participant_id="p-1", channel="post", sent_at=WHEN
                )
                for cid in ("ch-1", "ch-2")
            }
        },
        name="feedback",
    ),
]


@pytest.mark.parametrize(("events", "rows", "patches"), CASES)
def test_each_event_type(events: list[Any], rows: dict[Any, Any], patches: list[Any]) -> None:
    projection = fold(*events)
    assert {model: found for model, found in projection.rows.items() if model is not RecordVersion} == rows
    assert projection.patches == patches


def test_erasure_blanks_every_personal_field() -> None:
    kept = {"org_id", "participant_id", "role", "registered_at"}  # keys, the role counted in reach, the date
    assert set(ERASED_FIELDS) == set(Participant.model_fields) - kept
    projection = fold(
        stored("participant.registered", FULL_REGISTRATION), stored("participant.erased", {"participant_id": "p-1"})
    )
    assert projection.patches == []
    row = projection.rows[Participant][P1]
    assert row == {**PARTICIPANT_ROW, **ERASED_FIELDS}
    assert "Asha" not in repr(row) and "asha@example.org" not in repr(row)


def test_consent_change_after_registration_patches_the_pending_row() -> None:
    projection = fold(
        stored("participant.registered", FULL_REGISTRATION),
        stored("participant.consent_changed", {"participant_id": "p-1", "consent": False, "channel": "phone"}),
        stored("participant.consent_changed", {"participant_id": "p-2", "consent": False}),
    )
    assert projection.rows[Participant] == {
        P1: {**PARTICIPANT_ROW, "consent_to_contact": False, "preferred_channel": "phone"}
    }
    assert projection.patches == [(Participant, (ORG, "p-2"), {"consent_to_contact": False})]


def test_re_registration_supersedes_a_queued_patch() -> None:
    projection = fold(
        stored("participant.erased", {"participant_id": "p-1"}),
        stored("participant.consent_changed", {"participant_id": "p-2", "consent": True}),
        stored("participant.erased", {"participant_id": "p-1"}, org="org-b"),
        stored("participant.registered", FULL_REGISTRATION),
    )
    assert projection.rows[Participant] == {P1: PARTICIPANT_ROW}
    assert projection.patches == [
        (Participant, (ORG, "p-2"), {"consent_to_contact": True}),
        (Participant, ("org-b", "p-1"), {**ERASED_FIELDS}),
    ]


def test_status_change_after_recording_patches_the_pending_change() -> None:
    projection = fold(
        stored("change.recorded", CHANGE),
        stored(
            "change.status_changed",
            {"change_id": "ch-1", "status": "declined", "note": "No budget."},
            at="2026-03-20T09:00:00Z",
        ),
    )
    assert projection.patches == []
    assert projection.rows[Change] == {
        (ORG, "ch-1"): {
            **CHANGE_ROW,
            "status": "declined",
            "status_note": "No budget.",
            "decided_on": date(2026, 3, 20),
        }
    }


def test_a_later_fact_about_the_same_row_replaces_the_earlier() -> None:
    held = {"activity_id": "a-1", "title": "Forum", "area": "media", "level": "consultation", "date": "2026-03-02"}
    projection = fold(
        stored("activity.held", {**held, "duration_hours": 1}),
        stored("activity.held", {**held, "title": "Media forum", "duration_hours": 2}),
        stored("activity.held", {**held, "date": "2026-04-01", "duration_hours": 3}, org="org-b"),
    )
    assert {key: (row["title"], row["duration_hours"]) for key, row in projection.rows[Activity].items()} == {
        (ORG, "a-1"): ("Media forum", 2.0),
        ("org-b", "a-1"): ("Forum", 3.0),
    }


def test_dates_are_taken_where_the_event_happened() -> None:
    late = "2026-03-31T23:30:00-02:00"  # already 1 April in UTC
    projection = fold(
        stored("session.attended", {"activity_id": "a-1", "participant_id": "p-1", "hours": 1}, at=late, eid=E1)
    )
    assert projection.rows[Attendance][(E1,)]["attended_on"] == date(2026, 3, 31)


def test_empty_batch() -> None:
    assert fold() == Projection()


# --- Corrections: the latest version replaces the earlier one, and each version is kept for the history -----


def versions(projection: Projection) -> list[dict[str, Any]]:
    return list(projection.rows.get(RecordVersion, {}).values())


def test_a_corrected_activity_replaces_the_row_and_both_versions_are_kept() -> None:
    corrected = {**HELD, "title": "Members' forum", "duration_hours": 2.0, "reason": "Typo in the title"}
    projection = fold(stored("activity.held", HELD, eid=E1), stored("activity.corrected", corrected, eid=E2))
    assert projection.rows[Activity] == {
        (ORG, "a-1"): {**ACTIVITY_ROW, "title": "Members' forum", "duration_hours": 2.0}
    }
    first, second = versions(projection)
    assert (first["type"], first["reason"], second["type"], second["reason"]) == (
        "activity.held",
        None,
        "activity.corrected",
        "Typo in the title",
    )
    assert '"title": "Forum"' in first["detail"] and '"title": "Members\' forum"' in second["detail"]


def test_a_withdrawn_attendance_is_deleted_whether_written_before_or_in_the_same_batch() -> None:
    withdrawn = {"attendance_id": E1, "activity_id": "a-1", "participant_id": "p-1", "reason": "Wrong person"}
    same_batch = fold(stored("session.attended", ATTENDED, eid=E1), stored("attendance.withdrawn", withdrawn, eid=E2))
    assert Attendance not in same_batch.rows or not same_batch.rows[Attendance]
    assert same_batch.deletes == [(Attendance, {"event_id": E1, "org_id": ORG})]
    (version,) = versions(same_batch)
    assert (version["kind"], version["record_id"], version["reason"]) == ("activity", "a-1", "Wrong person")


def test_a_corrected_contribution_replaces_its_people_text_and_day() -> None:
    corrected = {**SAID, "participant_ids": ["p-2"], "text": "Evening sessions, please", "made_on": "2026-03-01"}
    projection = fold(stored("contribution.made", SAID), stored("contribution.corrected", {**corrected, "reason": "x"}))
    assert projection.rows[Contribution][(ORG, "c-1")]["text"] == "Evening sessions, please"
    assert projection.rows[Contribution][(ORG, "c-1")]["made_on"] == date(2026, 3, 1)
    assert set(projection.rows[ContributionParticipant]) == {(ORG, "c-1", "p-2")}  # p-1 is no longer linked
    assert projection.deletes == [(ContributionParticipant, {"org_id": ORG, "contribution_id": "c-1"})]


def test_a_corrected_change_keeps_its_status_and_replaces_its_links() -> None:
    corrected = {**CHANGE, "title": "Evening and weekend sessions", "links": [LINKS[0]], "reason": "Linked wrongly"}
    projection = fold(stored("change.recorded", DECIDED), stored("change.corrected", corrected))
    row = projection.rows[Change][CH1]
    assert (row["title"], row["status"], row["decided_on"]) == (
        "Evening and weekend sessions",
        "agreed",
        date(2026, 3, 12),
    )
    assert list(projection.rows[ChangeLink]) == [(*CH1, LINKS[0]["contribution_id"])]
    # written by an earlier batch: a patch, and the old links deleted before the new ones are written
    alone = fold(stored("change.corrected", corrected))
    assert alone.patches[0][0] is Change and alone.patches[0][2]["title"] == "Evening and weekend sessions"
    assert alone.deletes == [(ChangeLink, {"org_id": ORG, "change_id": "ch-1"})]


def test_corrected_details_patch_the_person_and_the_history_names_fields_never_values() -> None:
    details = {
        "participant_id": "p-1",
        "display_name": "Asha Patel",
        "role": "carer",
        "contact": {"email": "asha.patel@example.org"},
        "fields": ["display_name", "email"],
        "reason": "Married name; new e-mail",
    }
    projection = fold(
        stored("participant.registered", FULL_REGISTRATION), stored("participant.details_changed", details)
    )
    row = projection.rows[Participant][P1]
    assert (row["display_name"], row["email"], row["phone"], row["age_band"]) == (
        "Asha Patel",
        "asha.patel@example.org",
        None,
        None,
    )
    assert row["consent_to_contact"] is True  # consent has its own event
    history = versions(projection)[1]
    assert history["detail"] == '{"fields": ["display_name", "email"]}'
    assert "Asha" not in history["detail"]
