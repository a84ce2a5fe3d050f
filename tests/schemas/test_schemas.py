"""The event contracts: valid examples round-trip, invalid ones fail at an exact path, the JSON Schema agrees."""

from __future__ import annotations

import uuid
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from jsonschema import Draft202012Validator
from pydantic import ValidationError

from schemas import events as ev
from schemas.vocab import AREA_LABELS, Area, label

ORG = "org-a"
AT = "2026-03-14T10:00:00+00:00"
NOW = datetime.now(UTC)


def event(type_: str, payload: dict[str, Any], **envelope: Any) -> dict[str, Any]:
    return {"type": type_, "org_id": ORG, "occurred_at": AT, "payload": payload, **envelope}


REGISTERED = {"participant_id": "p-1", "display_name": "Asha", "role": "carer"}
HELD = dict(
    activity_id="a-1", title="Forum", area="research", level="co_production", date="2026-03-14", duration_hours=2.5
)
ATTENDED = {"activity_id": "a-1", "participant_id": "p-1", "hours": 2.5}
SAID = {"contribution_id": "c-1", "participant_ids": ["p-1"], "area": "research", "text": "Evening sessions, please."}
CHANGE = {"change_id": "ch-1", "area": "research", "title": "Evening sessions", "description": "We moved them."}
STATUS = {"change_id": "ch-1", "status": "agreed"}

VALID: list[tuple[str, dict[str, Any]]] = [
    ("participant.registered", REGISTERED),
    (
        "participant.registered",
        {
            **REGISTERED,
            "role": "service_user",
            "contact": {"email": "asha@example.org", "phone": "+44 (0)20 7946-0000", "postal_address": "1 High St"},
            "consent_to_contact": True,
            "preferred_channel": "email",
            "demographics": {"age_band": "18_24", "gender": "prefer_not_to_say", "region": "wales"},
        },
    ),
    ("participant.registered", {**REGISTERED, "consent_to_contact": True, "preferred_channel": "in_person"}),
    ("participant.consent_changed", {"participant_id": "p-1", "consent": False}),
    ("participant.consent_changed", {"participant_id": "p-1", "consent": True, "channel": "post"}),
    ("participant.erased", {"participant_id": "p-1"}),
    ("activity.held", HELD),
    ("session.attended", {**ATTENDED, "hours": 24, "session_role": "co_facilitator"}),
    ("contribution.made", {**SAID, "participant_ids": ["p-1", "p-2"], "activity_id": "a-1"}),
    ("change.recorded", CHANGE),
    (
        "change.recorded",
        {
            **CHANGE,
            "status": "implemented",
            "decided_on": "2026-03-20",
            "links": [{"contribution_id": "c-1", "strength": "major"}, {"contribution_id": "c-2", "strength": "minor"}],
        },
    ),
    ("change.status_changed", STATUS),
    ("change.status_changed", {"change_id": "ch-1", "status": "declined", "note": "No budget this year."}),
    ("feedback.sent", {"participant_id": "p-1", "change_ids": ["ch-1", "ch-2"], "channel": "email"}),
    (
        "participant.details_changed",
        {**REGISTERED, "contact": {"phone": "0113 496 0000"}, "fields": ["phone"], "reason": "New number"},
    ),
    ("activity.corrected", {**HELD, "title": "Members' forum", "reason": "Typo"}),
    (
        "attendance.withdrawn",
        {"attendance_id": str(uuid.UUID(int=7)), "activity_id": "a-1", "participant_id": "p-1", "reason": "Not there"},
    ),
    ("contribution.corrected", {**SAID, "made_on": "2026-03-01", "reason": "Wrong day"}),
    ("change.corrected", {**CHANGE, "links": [], "reason": "Linked by mistake"}),
]
VALID_IDS = [f"{type_}-{n}" for n, (type_, _) in enumerate(VALID)]


def test_every_event_type_has_a_valid_example() -> None:
    assert {type_ for type_, _ in VALID} == set(ev.PAYLOADS) == set(ev.EVENT_TYPES)


@pytest.mark.parametrize(("type_", "payload"), VALID, ids=VALID_IDS)
def test_valid_event_round_trips(type_: str, payload: dict[str, Any]) -> None:
    parsed = ev.EVENT_ADAPTER.validate_python(event(type_, payload))
    assert isinstance(parsed.payload, ev.PAYLOADS[type_])
    again = ev.EVENT_ADAPTER.validate_python(parsed.model_dump(mode="json"))
    assert again == parsed
    assert ev.EVENT_ADAPTER.validate_json(ev.EVENT_ADAPTER.dump_json(parsed)) == parsed


FUTURE = (NOW + timedelta(hours=6)).isoformat()  # far enough ahead to stay future however long the run takes
FUTURE_DAY = (NOW + timedelta(days=2)).date().isoformat()
VALID_ERASED = event("participant.erased", {"participant_id": "p-1"})

INVALID = [
    pytest.param(event("participant.archived", {}), "(body)", "does not match any of the expected tags", id="type"),
    pytest.param(event("activity.held", {**HELD, "area": "gardening"}), "payload.area", "'campaigning'", id="area"),
    pytest.param({**VALID_ERASED, "occurred_at": "2026-03-14T10:00:00"}, "occurred_at", "timezone", id="naive"),
    pytest.param({**VALID_ERASED, "occurred_at": FUTURE}, "occurred_at", "must not be in the future", id="future"),
    pytest.param(event("activity.held", {**HELD, "date": FUTURE_DAY}), "payload.date", "in the future", id="day"),
    pytest.param(event("session.attended", {**ATTENDED, "hours": 0}), "payload.hours", "greater than 0", id="h0"),
    pytest.param(event("session.attended", {**ATTENDED, "hours": -1}), "payload.hours", "greater than 0", id="h-1"),
    pytest.param(
        event("session.attended", {**ATTENDED, "hours": 24.01}),
        "payload.hours",
        "less than or equal to 24",
        id="h24.01",
    ),
    pytest.param(event("contribution.made", {**SAID, "text": ""}), "payload.text", "at least 1 character", id="empty"),
    pytest.param(
        event("contribution.made", {**SAID, "text": " \n\t "}), "payload.text", "at least 1 character", id="blank"
    ),
    pytest.param(
        event("contribution.made", {**SAID, "text": "x" * 4001}),
        "payload.text",
        "at most 4000 characters",
        id="text-4001",
    ),
    pytest.param(
        event("participant.registered", {**REGISTERED, "display_name": "n" * 121}),
        "payload.display_name",
        "at most 120 characters",
        id="name-121",
    ),
    pytest.param(
        event("participant.erased", {"participant_id": "p-1", "nhs_no": "1"}),
        "payload.nhs_no",
        "Extra",
        id="extra-payload",
    ),
    pytest.param({**VALID_ERASED, "colour": "red"}, "colour", "Extra inputs are not permitted", id="extra-envelope"),
    pytest.param(
        event("participant.erased", {"participant_id": "p 1"}), "payload.participant_id", "use 1 to 64", id="id-space"
    ),
    pytest.param(
        event("participant.erased", {"participant_id": "p" * 65}), "payload.participant_id", "use 1 to 64", id="id-65"
    ),
    pytest.param({**VALID_ERASED, "org_id": "Org-A"}, "org_id", "organisation's slug", id="org-upper"),
    pytest.param(
        event("change.status_changed", {"change_id": "ch-1", "status": "declined"}),
        "payload",
        "a declined change needs a note saying why",
        id="declined-no-note",
    ),
    pytest.param(
        event("change.recorded", {**CHANGE, "status": "agreed"}),
        "payload",
        "a change that is 'agreed' needs decided_on",
        id="decided-no-date",
    ),
    pytest.param(
        event(
            "change.recorded",
            {**CHANGE, "links": [{"contribution_id": "c-1", "strength": s} for s in ("minor", "major")]},
        ),
        "payload",
        "each contribution may be linked once",
        id="duplicate-links",
    ),
    pytest.param(
        event("participant.registered", {**REGISTERED, "consent_to_contact": True, "preferred_channel": "email"}),
        "payload",
        "preferred channel 'email' needs that contact detail",
        id="email-without-address",
    ),
    pytest.param(
        event("contribution.made", {**SAID, "participant_ids": []}),
        "payload.participant_ids",
        "at least 1",
        id="no-participants",
    ),
    pytest.param(
        event("contribution.made", {**SAID, "participant_ids": [f"p-{n}" for n in range(51)]}),
        "payload.participant_ids",
        "at most 50 items",
        id="participants-51",
    ),
    pytest.param({**VALID_ERASED, "schema_version": 2}, "schema_version", "Input should be 1", id="version-2"),
]


@pytest.mark.parametrize(("raw", "path", "fragment"), INVALID)
def test_invalid_event_fails_at_exact_path(raw: dict[str, Any], path: str, fragment: str) -> None:
    with pytest.raises(ValidationError) as caught:
        ev.EVENT_ADAPTER.validate_python(raw)
    errors = [(ev.error_path(error["loc"]), error["msg"]) for error in caught.value.errors()]
    assert len(errors) == 1, errors
    assert errors[0][0] == path
    assert fragment in errors[0][1]


def test_occurred_at_inside_the_clock_skew_is_accepted() -> None:
    ahead = (datetime.now(UTC) + timedelta(minutes=4)).isoformat()
    assert ev.EVENT_ADAPTER.validate_python({**VALID_ERASED, "occurred_at": ahead}).occurred_at > datetime.now(UTC)


def test_activity_held_today_is_accepted() -> None:
    today = datetime.now(UTC).date()
    assert (
        ev.EVENT_ADAPTER.validate_python(event("activity.held", {**HELD, "date": today.isoformat()})).payload.date
        == today
    )


@pytest.mark.parametrize(
    ("size", "paths", "fragment"),
    [(1001, ["(body)"], "at most 1000 items"), (0, ["(body)"], "at least 1 item")],
)
def test_batch_size_is_bounded(size: int, paths: list[str], fragment: str) -> None:
    with pytest.raises(ValidationError) as caught:
        ev.BATCH_ADAPTER.validate_python([VALID_ERASED] * size)
    assert [ev.error_path(e["loc"]) for e in caught.value.errors()] == paths
    assert fragment in caught.value.errors()[0]["msg"]


def test_batch_errors_name_the_item() -> None:
    bad = event("participant.erased", {"participant_id": "p 1"})
    with pytest.raises(ValidationError) as caught:
        ev.BATCH_ADAPTER.validate_python([VALID_ERASED, bad])
    assert [ev.error_path(e["loc"]) for e in caught.value.errors()] == ["[1].payload.participant_id"]
    assert len(ev.BATCH_ADAPTER.validate_python([VALID_ERASED] * ev.MAX_BATCH)) == 1000


def test_proposed_change_has_no_decision_date() -> None:
    with pytest.raises(ValidationError):
        ev.EVENT_ADAPTER.validate_python(event("change.recorded", {**CHANGE, "decided_on": "2026-03-20"}))


# DOMAIN.md, "Activity areas": exactly these sixteen keys and labels.
DOMAIN_AREAS = {
    "campaigning": "Campaigning",
    "complaints": "Complaints and comments",
    "conferences_events": "Conferences and events",
    "fundraising": "Fundraising",
    "governance": "Governance",
    "impact": "Impact",
    "involvement": "Involvement",
    "media": "Media",
    "diversity": "Promoting diversity",
    "publications": "Publications",
    "pr_marketing": "PR and marketing",
    "recruitment": "Recruitment and selection",
    "research": "Research",
    "strategy_policy": "Strategy, policy and planning",
    "support": "Support",
    "training": "Training",
}


def test_the_sixteen_areas_match_the_domain() -> None:
    assert [area.value for area in Area] == list(DOMAIN_AREAS)
    assert {area.value: text for area, text in AREA_LABELS.items()} == DOMAIN_AREAS


@pytest.mark.parametrize(
    ("value", "expected"),
    [
        ("pr_marketing", "PR and marketing"),
        ("strategy_policy", "Strategy, policy and planning"),
        ("co_production", "Co-production"),
        ("user_led", "User-led"),
        ("service_user", "Service user"),
        ("prefer_not_to_say", "Prefer not to say"),
        ("under_18", "Under 18"),
        ("declined", "Declined"),
    ],
)
def test_label(value: str, expected: str) -> None:
    assert label(value) == expected


def test_age_band_label_is_readable() -> None:
    assert label("18_24") in {"18 to 24", "18-24", "18–24"}  # noqa: RUF001


@pytest.fixture(scope="module")
def validator() -> Draft202012Validator:
    schema = ev.event_json_schema()
    Draft202012Validator.check_schema(schema)
    return Draft202012Validator(schema)


@pytest.mark.parametrize(("type_", "payload"), VALID, ids=VALID_IDS)
def test_json_schema_accepts_valid_events(validator: Draft202012Validator, type_: str, payload: dict[str, Any]) -> None:
    raw = event(type_, payload)
    assert list(validator.iter_errors(raw)) == []
    assert list(validator.iter_errors([raw, raw])) == []


@pytest.mark.parametrize(
    "raw",
    [
        pytest.param(event("activity.held", {**HELD, "area": "gardening"}), id="area"),
        pytest.param(event("participant.erased", {"participant_id": "p-1", "nhs_no": "1"}), id="extra-payload"),
        pytest.param({**VALID_ERASED, "colour": "red"}, id="extra-envelope"),
        pytest.param(event("participant.archived", {"participant_id": "p-1"}), id="type"),
        pytest.param({**VALID_ERASED, "schema_version": 2}, id="version"),
        pytest.param(event("session.attended", {**ATTENDED, "hours": 0}), id="hours"),
        pytest.param(event("participant.erased", {"participant_id": "p" * 65}), id="identifier"),
        pytest.param([], id="empty-batch"),
    ],
)
def test_json_schema_rejects_what_the_models_reject(validator: Draft202012Validator, raw: Any) -> None:
    assert not validator.is_valid(raw)
    adapter = ev.BATCH_ADAPTER if isinstance(raw, list) else ev.EVENT_ADAPTER
    with pytest.raises(ValidationError):
        adapter.validate_python(raw)


def stored_event(payload: dict[str, Any], **kwargs: Any) -> ev.StoredEvent:
    return ev.StoredEvent.accept(ev.EVENT_ADAPTER.validate_python(event("contribution.made", payload)), **kwargs)


def test_accept_stamps_the_server_fields() -> None:
    when = datetime(2026, 3, 15, 9, 30, tzinfo=UTC)
    eid = uuid.UUID(int=7)
    raw = {**event("participant.erased", {"participant_id": "p-1"}), "event_id": str(eid)}
    stored = ev.StoredEvent.accept(ev.EVENT_ADAPTER.validate_python(raw), recorded_by="token:ci", recorded_at=when)
    assert (stored.event_id, stored.type, stored.schema_version, stored.org_id) == (eid, "participant.erased", 1, ORG)
    assert (stored.recorded_at, stored.recorded_by) == (when, "token:ci")
    assert stored.occurred_at == datetime(2026, 3, 14, 10, tzinfo=UTC)
    assert stored.payload == {"participant_id": "p-1"}
    assert stored.typed_payload() == ev.ParticipantErased(participant_id="p-1")
    before = datetime.now(UTC)
    assert before <= stored_event(SAID, recorded_by="staff:1").recorded_at <= datetime.now(UTC)


def test_stored_event_round_trips_through_bytes() -> None:
    stored = stored_event({**SAID, "participant_ids": ["p-1", "p-2"]}, recorded_by="staff:1")
    assert ev.StoredEvent.from_bytes(stored.to_bytes()) == stored
    with pytest.raises(ValidationError):
        stored.org_id = "org-b"  # type: ignore[misc]


def test_free_text_is_stored_as_typed() -> None:
    typed = "<script>alert('hi')</script> & \"quotes\"\n  kept  inside"
    stored = stored_event({**SAID, "text": f"  \n{typed}\t "}, recorded_by="staff:1")
    assert stored.payload["text"] == typed
    assert ev.StoredEvent.from_bytes(stored.to_bytes()).typed_payload().text == typed  # type: ignore[attr-defined]
