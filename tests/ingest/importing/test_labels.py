"""Spreadsheet import reads the labels people see: every vocabulary cell takes its label as well as its value.

A label is what the page, the templates and the dashboard show ("Yorkshire and the Humber",
"Co-production", "Prefer not to say", "E-mail"), from schemas.vocab: the same on every surface.
"""

from __future__ import annotations

import csv
import io
from typing import Any

import pytest
from flask.testing import FlaskClient
from sqlalchemy import Engine

from impact.settings import Settings
from ingest import importing
from ingest.importing.cells import Row, vocabulary_value
from ingest.importing.columns import COLUMNS, Kind
from processors.quality import QualityGate
from schemas.readmodels import Activity, Attendance, Contribution
from schemas.vocab import VOCABULARIES, label
from tests.factories import process_all
from tests.ingest.importing.helpers import ORG, as_csv, imported, no_dead_letters, rows_of

VOCABULARY_CELLS = [
    (kind, column.name, member.value)
    for kind in Kind
    for column in COLUMNS[kind]
    if column.name in VOCABULARIES
    for member in VOCABULARIES[column.name]
]


@pytest.mark.parametrize(("kind", "column", "value"), VOCABULARY_CELLS)
def test_every_value_of_every_vocabulary_column_reads_from_its_label_and_its_value(
    kind: Kind, column: str, value: str
) -> None:
    for written in (label(value), label(value).upper(), label(value).lower(), value):
        assert vocabulary_value(column, written) == value, written
        row = Row(2, [column], [written])
        assert row.choice(column) == value and not row.problems


@pytest.mark.parametrize(
    ("column", "written", "value"),
    [
        ("region", "Yorkshire and the Humber", "yorkshire_humber"),
        ("region", "Yorkshire humber", "yorkshire_humber"),  # the old template's example still reads
        ("level", "Co-production", "co_production"),
        ("level", "co production", "co_production"),
        ("gender", "Prefer not to say", "prefer_not_to_say"),
        ("preferred_channel", "E-mail", "email"),
        ("preferred_channel", "Email", "email"),
        ("age_band", "45 to 54", "45_54"),
        ("age_band", "75+", "75_plus"),
        ("area", "Strategy, policy and planning", "strategy_policy"),
        ("session_role", "Co-facilitator", "co_facilitator"),
    ],
)
def test_labels_and_usual_spellings_read_as_the_value(column: str, written: str, value: str) -> None:
    assert vocabulary_value(column, written) == value


def test_an_unknown_value_is_a_problem_listing_the_labels() -> None:
    row = Row(3, ["region"], ["Atlantis"])
    assert row.choice("region") == "Atlantis"
    assert row.problems["region"].startswith("'Atlantis' is not one of: North East, North West, Yorkshire and the")


def test_descriptions_and_template_examples_use_the_labels() -> None:
    for kind in Kind:
        for column in COLUMNS[kind]:
            if column.name not in VOCABULARIES:
                continue
            labels = [label(member.value) for member in VOCABULARIES[column.name]]
            assert column.allowed.startswith(f"One of: {', '.join(labels)}."), column.name
            assert column.example in {"", *labels}, (column.name, column.example)
    template = importing.template_csv(Kind.participants).removeprefix("\ufeff")
    header, example = list(csv.reader(io.StringIO(template)))
    assert dict(zip(header, example, strict=True))["region"] == "Yorkshire and the Humber"


def _cycle(column: str, i: int) -> str:
    members = list(VOCABULARIES[column])
    return label(members[i % len(members)].value)


PEOPLE_COLUMNS = [column.name for column in COLUMNS[Kind.participants]]
PEOPLE_VOCABULARIES = [name for name in PEOPLE_COLUMNS if name in VOCABULARIES]


def _person(i: int) -> list[str]:
    cells: dict[str, Any] = {
        "participant_id": f"P{i}",
        "display_name": f"Person {i}",
        "email": f"p{i}@example.org",
        "phone": "0113 496 0000",
        "postal_address": "1 Main Street, Leeds",
        "consent_to_contact": "yes",
    }
    cells |= {name: _cycle(name, i) for name in PEOPLE_VOCABULARIES}
    return [cells.get(name, "") for name in PEOPLE_COLUMNS]


def test_every_label_imports_in_a_whole_file(
    staff: FlaskClient, engine: Engine, settings: Settings, gate: QualityGate
) -> None:
    widest = max(len(VOCABULARIES[name]) for name in PEOPLE_VOCABULARIES)
    people = as_csv(PEOPLE_COLUMNS, [_person(i) for i in range(widest)])
    checked = importing.check(importing.read_table(people, "people.csv"), org_id=ORG, engine=engine)
    assert checked.ok, [str(error) for error in checked.errors]
    for i, event in enumerate(checked.events):
        payload = event.payload.model_dump(mode="json")  # type: ignore[attr-defined]
        given = {**payload, **(payload.get("demographics") or {})}
        for name in PEOPLE_VOCABULARIES:
            assert label(given[name]) == _cycle(name, i), (i, name)
    imported(staff, people, "people.csv")
    process_all(settings, engine, gate)

    areas = len(VOCABULARIES["area"])
    header = [column.name for column in COLUMNS[Kind.attendance]]
    rows = [
        [
            f"A{i}",
            f"Meeting {i}",
            _cycle("area", i),
            _cycle("level", i),
            "27/03/2026",
            "2",
            "P0",
            "",
            _cycle("session_role", i),
        ]
        for i in range(areas)
    ]
    imported(staff, as_csv(header, rows), "attendance.csv")
    header = [column.name for column in COLUMNS[Kind.contributions]]
    rows = [[f"C{i}", "P1", "", _cycle("area", i), "27/03/2026", f"Said {i}"] for i in range(areas)]
    imported(staff, as_csv(header, rows), "contributions.csv")
    process_all(settings, engine, gate)
    no_dead_letters(engine)
    activities = {a.activity_id: a for a in rows_of(engine, Activity)}
    assert {(a.area, a.level) for a in activities.values()} == {
        (list(VOCABULARIES["area"])[i].value, list(VOCABULARIES["level"])[i % 3].value) for i in range(areas)
    }
    assert {a.session_role for a in rows_of(engine, Attendance)} == {m.value for m in VOCABULARIES["session_role"]}
    assert {c.area for c in rows_of(engine, Contribution)} == {m.value for m in VOCABULARIES["area"]}
