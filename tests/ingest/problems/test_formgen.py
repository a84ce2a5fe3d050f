"""The correction form made from payload models: table-driven, no app and no database."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

import pytest

from ingest.problems.formgen import (
    NOT_GIVEN,
    OCCURRED,
    OCCURRED_LABEL,
    Spec,
    as_text,
    labels_of,
    payload_of,
    placer,
    sections,
    shown,
    specs_of,
    stored_value,
    value_of,
)
from schemas.events import PAYLOADS, WITHHELD
from schemas.vocab import AREA_LABELS, VOCABULARIES, label, title


def spec_of(event_type: str, name: str) -> Spec:
    return next(spec for spec in specs_of(sections(event_type)) if spec.name == name)


@pytest.mark.parametrize(
    ("event_type", "name", "kind", "required"),
    [
        ("participant.registered", "participant_id", "text", True),
        ("participant.registered", "role", "select", True),
        ("participant.registered", "contact-email", "text", False),
        ("participant.registered", "contact-postal_address", "textarea", False),
        ("participant.registered", "consent_to_contact", "yesno", False),
        ("participant.registered", "demographics-region", "select", False),
        ("participant.consent_changed", "consent", "yesno", True),
        ("activity.held", "date", "date", True),
        ("activity.held", "duration_hours", "number", True),
        ("session.attended", "session_role", "select", False),
        ("contribution.made", "participant_ids", "lines", True),
        ("contribution.made", "text", "textarea", True),
        ("change.recorded", "links", "rows", False),
        ("feedback.sent", "change_ids", "lines", True),
    ],
)
def test_each_payload_field_gets_the_field_its_type_needs(
    event_type: str, name: str, kind: str, required: bool
) -> None:
    spec = spec_of(event_type, name)
    assert (spec.kind, spec.required) == (kind, required)


@pytest.mark.parametrize("event_type", sorted(PAYLOADS))
def test_every_field_is_titled_and_every_option_labelled_from_the_vocabulary(event_type: str) -> None:
    parts = sections(event_type)
    for section in parts:
        if section.name is not None:
            assert section.legend == title(section.name)
    for spec in specs_of(parts):
        assert spec.label == title(spec.path[-1])
        if spec.kind == "select":
            assert all(text == label(value) for value, text in spec.options), spec.name
            if spec.path[-1] in VOCABULARIES:
                assert {value for value, _ in spec.options} == {m.value for m in VOCABULARIES[spec.path[-1]]}
    assert list(labels_of(parts))[-1] == OCCURRED and labels_of(parts)[OCCURRED] == OCCURRED_LABEL


def test_groups_are_sections_under_a_legend() -> None:
    parts = {section.name: section for section in sections("participant.registered")}
    assert parts["contact"].legend == "Contact details" and parts["contact"].nullable
    assert parts["demographics"].legend == "Equality monitoring" and parts["demographics"].optional
    assert not parts["demographics"].nullable
    assert [spec.path for spec in parts["contact"].fields] == [
        ("contact", "email"),
        ("contact", "phone"),
        ("contact", "postal_address"),
    ]


def test_areas_are_offered_in_the_order_of_their_labels() -> None:
    options = spec_of("activity.held", "area").options
    assert [text for _, text in options] == sorted(AREA_LABELS.values())


def test_a_rows_field_explains_its_lines() -> None:
    spec = spec_of("change.recorded", "links")
    assert spec.columns == ("contribution_id", "strength")
    assert spec.vocab == {"strength": frozenset({"minor", "moderate", "major"})}
    assert spec.hint.startswith("One per line: the contribution reference then the strength of influence")


@pytest.mark.parametrize(
    ("payload", "path", "expected"),
    [
        ({"hours": 2.0}, ("hours",), 2.0),
        ({"contact": {"email": "a@b.org"}}, ("contact", "email"), "a@b.org"),
        ({"contact": WITHHELD}, ("contact", "email"), WITHHELD),
        ({"contact": None}, ("contact", "email"), None),
        ({}, ("hours",), None),
    ],
)
def test_stored_value(payload: dict[str, Any], path: tuple[str, ...], expected: Any) -> None:
    assert stored_value(payload, path) == expected


LINKS = [{"contribution_id": "c-1", "strength": "major"}, {"contribution_id": "c-2", "strength": "minor"}]


@pytest.mark.parametrize(
    ("event_type", "name", "value", "text", "seen"),
    [
        ("session.attended", "hours", 1.5, "1.5", "1.5"),
        ("session.attended", "hours", 2.0, "2", "2"),
        ("participant.registered", "consent_to_contact", True, "yes", "Yes"),
        ("participant.registered", "consent_to_contact", False, "no", "No"),
        (
            "participant.registered",
            "demographics-region",
            "yorkshire_humber",
            "yorkshire_humber",
            label("yorkshire_humber"),
        ),
        ("activity.held", "level", "co_production", "co_production", "Co-production"),
        ("contribution.made", "participant_ids", ["p-1", "p-2"], "p-1\np-2", "p-1, p-2"),
        ("change.recorded", "links", LINKS, "c-1 major\nc-2 minor", "c-1 (major); c-2 (minor)"),
        ("participant.registered", "contact-email", WITHHELD, "", "Withheld (personal data)"),
        ("session.attended", "session_role", None, "", NOT_GIVEN),
        ("contribution.made", "participant_ids", [], "", NOT_GIVEN),
    ],
)
def test_a_stored_value_in_the_form_and_as_recorded(
    event_type: str, name: str, value: Any, text: str, seen: str
) -> None:
    spec = spec_of(event_type, name)
    assert as_text(spec, value) == text
    assert shown(spec, value) == seen


TODAY = datetime.now(UTC).date()


@pytest.mark.parametrize(
    ("event_type", "name", "typed", "expected", "error"),
    [
        ("session.attended", "hours", " 1.5 ", 1.5, None),
        ("session.attended", "hours", "lots", "lots", None),  # the schema says how to write it
        ("session.attended", "hours", "", "", "Enter hours."),
        ("session.attended", "session_role", "", None, None),
        ("participant.consent_changed", "consent", "", "", "Choose agrees to be contacted."),
        ("participant.consent_changed", "consent", "yes", True, None),
        ("activity.held", "date", TODAY.isoformat(), TODAY.isoformat(), None),
        ("activity.held", "date", (TODAY + timedelta(days=1)).isoformat(), None, "The date cannot be in the future."),
        ("contribution.made", "participant_ids", "p-1\n\n p-2 \n", ["p-1", "p-2"], None),
        (
            "contribution.made",
            "participant_ids",
            " ",
            [],
            "Enter at least one of the participant references, one per line.",
        ),
        ("contribution.made", "text", "  ", "", "Enter what they said."),
        ("contribution.made", "text", " kept as typed ", " kept as typed ", None),
        ("change.recorded", "links", "c-1 major\nc-2, minor", LINKS, None),
        ("change.recorded", "links", "c-1", [], "Line 1 does not fit."),
        (
            "change.recorded",
            "links",
            "c-1 huge",
            [{"contribution_id": "c-1", "strength": "huge"}],
            "Line 1: the strength of influence must be one of major, minor, moderate.",
        ),
    ],
)
def test_a_typed_value_into_the_payload(
    event_type: str, name: str, typed: str, expected: Any, error: str | None
) -> None:
    errors: dict[str, str] = {}
    value = value_of(spec_of(event_type, name), typed, errors)
    if expected is not None or error is None:
        assert value == expected
    if error is None:
        assert errors == {}
    else:
        assert errors[name].startswith(error)


def test_the_form_as_posted_makes_the_payload_back() -> None:
    parts = sections("participant.registered")
    stored = {
        "participant_id": "p-1",
        "display_name": "Ann",
        "role": "carer",
        "contact": {"email": "ann@example.org", "phone": None, "postal_address": None},
        "consent_to_contact": True,
        "preferred_channel": "email",
        "demographics": {"age_band": None, "gender": None, "ethnicity": None, "disability": None, "region": "london"},
    }
    form = {spec.name: as_text(spec, stored_value(stored, spec.path)) for spec in specs_of(parts)}
    errors: dict[str, str] = {}
    assert payload_of(parts, form, errors) == stored
    assert errors == {}
    form |= {"contact-email": "", "feedback_frequency": ""}
    payload = payload_of(parts, form, errors)
    assert payload["contact"] is None  # an empty nullable group is sent as None
    assert "feedback_frequency" not in payload  # unanswered: the schema's default


@pytest.mark.parametrize(
    ("loc", "place"),
    [
        (("payload", "hours"), "hours"),
        (("payload", "contact", "email"), "contact-email"),
        (("payload", "links", 0, "strength"), "links"),
        (("payload", "nonsense"), "fallback"),
        (("occurred_at",), OCCURRED),
        (("org_id",), "fallback"),
    ],
)
def test_a_schema_error_is_placed_at_its_field(loc: tuple[int | str, ...], place: str) -> None:
    parts = sections("participant.registered") + sections("session.attended") + sections("change.recorded")
    assert placer(parts, "fallback")(loc) == place
