"""Staff forms: one title per field and one label per value (schemas.vocab), unless a form words it its way."""

from __future__ import annotations

import pytest

from ingest.forms import activities, changes, people
from schemas.vocab import FIELD_TITLES, label, title

# Where a form deliberately asks in its own words: (form labels, field) -> the form's words.
OWN_WORDS = {
    ("PARTICIPANT_LABELS", "participant_id"): "Reference",
    ("PARTICIPANT_LABELS", "consent_to_contact"): "Consent to be contacted",
    ("CONSENT_LABELS", "consent"): "Consent to be contacted",
    ("ACTIVITY_LABELS", "activity_id"): "Reference",
    ("ATTENDANCE_LABELS", "hours"): "Hours each",
    ("ATTENDANCE_LABELS", "session_role"): "Their role",
    ("CONTRIBUTION_LABELS", "activity_id"): "Activity",
    ("STATUS_LABELS", "status"): "New status",
}
FORMS = {
    "PARTICIPANT_LABELS": people.PARTICIPANT_LABELS,
    "CONSENT_LABELS": people.CONSENT_LABELS,
    "ACTIVITY_LABELS": activities.ACTIVITY_LABELS,
    "ATTENDANCE_LABELS": activities.ATTENDANCE_LABELS,
    "CONTRIBUTION_LABELS": changes.CONTRIBUTION_LABELS,
    "CHANGE_LABELS": changes.CHANGE_LABELS,
    "STATUS_LABELS": changes.STATUS_LABELS,
}


@pytest.mark.parametrize("form", sorted(FORMS))
def test_a_payload_field_has_its_vocabulary_title_unless_the_form_words_it_its_way(form: str) -> None:
    for name, text in FORMS[form].items():
        if name in FIELD_TITLES:
            assert text == OWN_WORDS.get((form, name), title(name)), (form, name)


@pytest.mark.parametrize(
    "options",
    [people.FREQUENCIES, activities.LEVEL_CHOICES, changes.STATUS_CHOICES, changes.STRENGTH_CHOICES],
)
def test_every_option_starts_with_its_values_label(options: list[tuple[str, str]]) -> None:
    for value, text in options:
        assert text == label(value) or text.startswith((f"{label(value)}: ", f"{label(value)}, ")), text
