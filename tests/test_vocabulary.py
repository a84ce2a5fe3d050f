"""One label per value: every surface (forms, import, dashboard, report, participant page, e-mails, CSV) names
a vocabulary value and a field exactly as `schemas.vocab` does, so no two surfaces disagree."""

from __future__ import annotations

import csv
import io
from datetime import date
from enum import StrEnum

import pytest

from schemas.vocab import (
    EVENT_LABELS,
    VOCABULARIES,
    Area,
    EventType,
    from_label,
    label,
    title,
)

EVERY_VALUE = [(field, member.value) for field, vocabulary in VOCABULARIES.items() for member in vocabulary]
TRICKY = {  # the labels that plain capitalisation gets wrong: the ones surfaces used to disagree on
    "yorkshire_humber": "Yorkshire and the Humber",
    "co_production": "Co-production",
    "user_led": "User-led",
    "18_24": "18 to 24",
    "75_plus": "75 and over",
    "email": "E-mail",
    "in_person": "In person",
    "non_binary": "Non-binary",
    "prefer_not_to_say": "Prefer not to say",
    "pr_marketing": "PR and marketing",
}


def test_every_value_has_one_label_that_reads_back_to_it() -> None:
    for field, value in EVERY_VALUE:
        assert label(value), value
        assert from_label(field, label(value)) == value, (field, value)
        assert from_label(field, label(value).upper()) == value, (field, value)
    for value, text in TRICKY.items():
        assert label(value) == text


def test_labels_within_one_vocabulary_never_collide() -> None:
    for field, vocabulary in VOCABULARIES.items():
        labels = [label(member.value) for member in vocabulary]
        assert len(labels) == len(set(labels)), field


@pytest.mark.parametrize(("field", "value"), EVERY_VALUE)
def test_staff_forms_label_values_as_the_vocabulary(field: str, value: str) -> None:
    from ingest.forms import common

    vocabulary: type[StrEnum] = VOCABULARIES[field]
    assert dict(common.choices(vocabulary))[value] == label(value)
    if field == "area":
        assert dict(common.area_choices())[value] == label(value)


def test_the_staff_templates_use_the_vocabulary_label(tmp_path: pytest.TempPathFactory) -> None:
    from impact.settings import Settings
    from ingest import create_app

    settings = Settings.model_validate({"env": "test", "data_dir": tmp_path, "secret_key": "t" * 40})
    app = create_app(settings)
    assert app.jinja_env.globals["label"] is label


@pytest.mark.parametrize(("field", "value"), EVERY_VALUE)
def test_the_import_accepts_and_describes_every_value_by_its_label(field: str, value: str) -> None:
    from ingest.importing import columns

    assert label(value) in columns.allowed(field)


def test_the_import_templates_show_labels_people_see() -> None:
    from ingest.importing import columns

    for kind in columns.Kind:
        header, example = list(csv.reader(io.StringIO(columns.template_csv(kind).lstrip("\ufeff"))))
        for name, cell in zip(header, example, strict=True):
            if cell and name in VOCABULARIES:
                assert from_label(name, cell) is not None, (kind, name, cell)
                assert cell == label(from_label(name, cell) or ""), (kind, name, cell)


REACH = {"role", "age_band", "gender", "ethnicity", "disability", "region"}


@pytest.mark.parametrize(("field", "value"), [(f, v) for f, v in EVERY_VALUE if f in REACH])
def test_dashboard_people_page_report_and_csv_label_reach_values_alike(field: str, value: str) -> None:
    from dashboard.filters import Filters
    from dashboard.metrics import Headline
    from dashboard.pages import people
    from dashboard.report import sections
    from dashboard.tables import to_csv

    page = people.field_table(field, {value: 7}, 7)
    assert page.columns[0] == title(field)
    assert next(row[0] for row in page.rows if row[1] == "7") == label(value)  # then the total row
    period = Filters(start=date(2026, 1, 1), end=date(2026, 12, 31))
    inclusive = sections.standards(Headline(), {field: {value: 7}}, {}, [], period)[0]
    (reported,) = [table for table in inclusive.tables if table.key == f"reach-{field}"]
    assert reported.columns[0] == title(field)
    assert [row[0] for row in reported.rows if row[1] == "7"] == [label(value)]
    for table in (page, reported):
        exported = list(csv.reader(io.StringIO(to_csv(table, "test"))))
        assert any(line and line[0] == label(value) for line in exported), exported


def test_the_participant_page_and_dashboard_filters_label_areas_alike() -> None:
    from dashboard import participant
    from dashboard.filters import Filters

    described = Filters(start=date(2026, 1, 1), end=date(2026, 2, 1), area="pr_marketing", level="user_led")
    assert "area: PR and marketing" in described.describe()
    assert "level: User-led" in described.describe()
    assert participant.label is label


def test_every_event_type_has_one_label_and_pages_use_it() -> None:
    from ingest.problems import views

    assert set(EVENT_LABELS) == set(EventType)
    for event_type in EventType:
        assert views.kind(event_type.value) == EVENT_LABELS[event_type]
    assert len(set(EVENT_LABELS.values())) == len(EVENT_LABELS)


def test_every_area_label_is_the_domain_table() -> None:
    """DOMAIN.md's table of the sixteen areas, as written there."""
    assert [label(area) for area in Area] == [
        "Campaigning",
        "Complaints and comments",
        "Conferences and events",
        "Fundraising",
        "Governance",
        "Impact",
        "Involvement",
        "Media",
        "Promoting diversity",
        "Publications",
        "PR and marketing",
        "Recruitment and selection",
        "Research",
        "Strategy, policy and planning",
        "Support",
        "Training",
    ]
