"""The People, Feedback and Data quality pages together: another organisation reusing the ids, an empty
period, and the real Dash callback and CSV export."""

from __future__ import annotations

import csv
import io
from collections.abc import Callable, Iterator
from datetime import date
from pathlib import Path
from typing import Any

import pytest
from flask.testing import FlaskClient
from sqlalchemy import Engine

from dashboard import create_app, shell
from dashboard.filters import long_date
from dashboard.pages import feedback, people, quality
from impact.settings import Environment, Settings
from tests.dashboard.pages.people_story import (
    AGE_Q1,
    ERASED,
    ETHNICITY_Q1,
    JUNE,
    Q1,
    H,
    assert_no_hidden_count_can_be_worked_out,
    build,
    rows,
    stats,
)
from tests.factories import add_organisation, sign_in

# --- Another organisation reusing the same ids ----------------------------------------------------------------------


def test_another_organisation_reusing_the_ids_sees_only_its_own_figures(story: Engine) -> None:
    page = build(story, people, Q1, org="org-b")
    # p01-p05 and p09, all "other": new all six; returning only p01 (Jan and Feb), so both are hidden
    assert stats(page) == {"people-involved": "6", "people-new": H, "people-returning": H}
    assert [row[1] for row in rows(page, "role")] == ["0", "0", "0", "6", "0", "6"]
    assert rows(page, "age-band")[7] == ["75 and over", "6", "100%"]

    page = build(story, feedback, Q1, org="org-b")  # p01, p09 owed on its ch-a; its feedback row is for p06
    assert stats(page) == {"closure-rate": H, "days-to-feedback": "—", "people-waiting": "fewer than 5"}
    assert rows(page, "waiting") == [["Org B change", "Implemented", "20 Jan 2025", "100", H]]
    assert_no_hidden_count_can_be_worked_out(page)

    page = build(story, quality, Q1, org="org-b")
    assert stats(page) == {
        "records-accepted": "2",
        "records-rejected": "1",
        "rejection-rate": "33%",
        "rejections-resolved": "0",
    }


# --- An empty period ----------------------------------------------------------------------------------------------


def test_every_page_shows_zeros_and_dashes_for_an_empty_period(story: Engine) -> None:
    page = build(story, people, JUNE)
    assert stats(page) == {"people-involved": "0", "people-new": "0", "people-returning": "0"}
    assert rows(page, "role") == [
        [name, "0", "—"] for name in ("Service user", "Patient", "Carer", "Other", ERASED)
    ] + [["All participants involved", "0", "—"]]
    assert "nobody was involved" in next(s.chart.summary for s in page.sections if s.key == "by-role")  # type: ignore[union-attr]

    page = build(story, feedback, JUNE)
    assert stats(page) == {"closure-rate": "—", "days-to-feedback": "—", "people-waiting": "0"}
    assert rows(page, "closure-by-month") == [["Jun 2025", "0", "0", "0", "—"], ["All months", "0", "0", "0", "—"]]
    assert rows(page, "waiting") == []

    page = build(story, quality, JUNE)
    assert stats(page) == {
        "records-accepted": "0",
        "records-rejected": "0",
        "rejection-rate": "—",
        "rejections-resolved": "0",
    }
    assert rows(page, "quality-by-month") == [["Jun 2025", "0", "0", "—"]]
    assert (rows(page, "rejections"), rows(page, "accepted-by-type")) == ([], [])
    assert rows(page, "rejections-by-month") == [["Jun 2025", "0"], ["All months", "0"]]


# --- Through the real callback and the CSV export -------------------------------------------------------------------

SEARCH = "?from=2025-01-01&to=2025-03-31"


@pytest.fixture
def client(story: Engine, tmp_path: Path) -> Iterator[FlaskClient]:
    """Leadership of org-a, signed in to the real app."""
    settings = Settings(env=Environment.test, secret_key="t" * 40, data_dir=tmp_path / "var")
    emails = add_organisation(story, "org-a")
    client = create_app(settings, story).server.test_client()
    sign_in(client, emails["leadership"])
    yield client


def by_id(component: Any, found: dict[str, Any] | None = None) -> dict[str, Any]:
    """Every component with an id in a serialised tree: id -> props."""
    found = {} if found is None else found
    if isinstance(component, list):
        for child in component:
            by_id(child, found)
    elif isinstance(component, dict) and "props" in component:
        if "id" in component["props"]:
            found[component["props"]["id"]] = component["props"]
        by_id(component["props"].get("children"), found)
    return found


def text(component: Any) -> str:
    if component is None:
        return ""
    if isinstance(component, str | int | float):
        return str(component)
    if isinstance(component, list):
        return " ".join(filter(None, (text(child) for child in component)))
    return text(component.get("props", {}).get("children"))


def body_rows(table: dict[str, Any]) -> list[list[str]]:
    body = next(part for part in table["children"] if part["type"] == "Tbody")
    return [[text(cell) for cell in row["props"]["children"]] for row in body["props"]["children"]]


def content(client: FlaskClient, path: str) -> dict[str, Any]:
    response = client.post("/_dash-update-component", json=shell.callback_body(path, SEARCH))
    assert response.status_code == 200, response.get_data(as_text=True)[:500]
    return by_id(response.get_json()["response"]["content"]["children"])


def download(client: FlaskClient, slug: str, key: str) -> list[list[str]]:
    response = client.get(f"/export/{slug}/{key}.csv{SEARCH}")
    assert response.status_code == 200
    return list(csv.reader(io.StringIO(response.get_data(as_text=True).removeprefix("\ufeff"))))[2:]


def days_ago(day: date) -> str:
    return str((date.today() - day).days)


def waiting_rows() -> list[list[str]]:
    return [
        ["Shorter forms", "Implemented", "20 Jan 2025", days_ago(date(2025, 1, 20)), H],
        ["Evening meetings", "Agreed", "14 Feb 2025", days_ago(date(2025, 2, 14)), H],
        ["Parking at the centre", "Declined", "10 Mar 2025", days_ago(date(2025, 3, 10)), H],
    ]


MONTHS_Q1 = [
    ["Jan 2025", "6", H, H, H],
    ["Feb 2025", H, H, H, H],
    ["Mar 2025", H, "0", H, H],
    ["All months", "15", "6", "9", "40%"],
]
CALLBACK: list[tuple[str, dict[str, str], dict[str, Callable[[], list[list[str]]]], tuple[str, list[Any]]]] = [
    (
        "/people",
        {"people-involved": "12", "people-new": H, "people-returning": H},
        {"age-band": lambda: AGE_Q1, "ethnicity": lambda: ETHNICITY_Q1},
        ("by-age-band-chart", [0, 0, 6, 0, None, 0, 0, 0, 0, 0, None]),
    ),
    (
        "/feedback",
        {"closure-rate": "40%", "days-to-feedback": "5", "people-waiting": "9"},
        {"waiting": waiting_rows, "closure-by-month": lambda: MONTHS_Q1},
        ("closure-months-chart", [6, None, None]),
    ),
    (
        "/quality",
        {"records-accepted": "13", "records-rejected": "5", "rejection-rate": "28%", "rejections-resolved": "1"},
        {
            "quality-by-month": lambda: [
                ["Jan 2025", "10", "2", "17%"],
                ["Feb 2025", "3", "2", "40%"],
                ["Mar 2025", "0", "1", "100%"],
            ],
            "rejections-by-month": lambda: [
                ["Jan 2025", "2", "0", "0", "0", "2"],
                ["Feb 2025", "0", "1", "0", "1", "2"],
                ["Mar 2025", "0", "0", "1", "0", "1"],
                ["All months", "2", "1", "1", "1", "5"],
            ],
        },
        ("quality-months-chart", [10, 3, 0]),
    ),
]


@pytest.mark.parametrize(("path", "figures", "tables", "drawn"), CALLBACK)
def test_the_callback_and_the_csv_show_the_same_protected_figures(
    client: FlaskClient,
    path: str,
    figures: dict[str, str],
    tables: dict[str, Callable[[], list[list[str]]]],
    drawn: tuple[str, list[Any]],
) -> None:
    found = content(client, path)
    assert {stat: found[stat]["children"] for stat in figures} == figures
    for key, expected in tables.items():
        assert body_rows(found[f"{key}-table"]) == expected(), key
        assert download(client, path.strip("/"), key) == expected(), key
    chart_id, values = drawn
    first = found[chart_id]["figure"]["data"][0]
    assert first.get("x" if first.get("orientation") == "h" else "y") == values
    if "waiting" in tables:
        assert f"as of {long_date(date.today())}" in text(found["waiting-caption"]["children"])
