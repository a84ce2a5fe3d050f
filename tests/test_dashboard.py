"""Dashboard: formatting and suppression, read-model queries on SQLite and PostgreSQL, the page end to end."""

from __future__ import annotations

from datetime import date
from pathlib import Path
from typing import Any

import pytest
from flask.testing import FlaskClient
from sqlalchemy import Engine
from sqlmodel import Session

from dashboard import create_app
from dashboard.formatting import (
    SMALL_COUNT,
    add_months,
    default_period,
    format_count,
    format_hours,
    format_month,
    format_people,
    format_percent,
    months_between,
    suppress,
)
from dashboard.overview import parse_period
from dashboard.queries import Headline, MonthlyFigures, headline_figures, monthly_trend, organisations
from impact.db import make_engine, session_scope
from schemas.readmodels import (
    OVERALL,
    Attendance,
    Change,
    ChangeLink,
    Contribution,
    ContributionParticipant,
    MonthlyMetric,
)

OVERVIEW_OUTPUTS = (
    ("participants-involved", "children"),
    ("involvement-hours", "children"),
    ("contributions", "children"),
    ("changes-influenced", "children"),
    ("influence-rate", "children"),
    ("trend-chart", "figure"),
    ("trend-table", "children"),
)


def post_overview(client: FlaskClient, org_id: str, start: date | str, end: date | str) -> dict[str, object]:
    """Run the overview callback exactly as the browser's Dash renderer does; output id -> new value."""
    body = {
        "output": ".." + "...".join(f"{id_}.{prop}" for id_, prop in OVERVIEW_OUTPUTS) + "..",
        "outputs": [{"id": id_, "property": prop} for id_, prop in OVERVIEW_OUTPUTS],
        "inputs": [
            {"id": "org", "property": "value", "value": org_id},
            {"id": "period", "property": "start_date", "value": str(start)},
            {"id": "period", "property": "end_date", "value": str(end)},
        ],
        "changedPropIds": ["period.start_date"],
        "parsedChangedPropsIds": ["period.start_date"],
    }
    response = client.post("/_dash-update-component", json=body)
    assert response.status_code == 200, response.get_data(as_text=True)
    payload = response.get_json()
    assert payload["multi"] is True
    return {id_: payload["response"][id_][prop] for id_, prop in OVERVIEW_OUTPUTS}


def component_text(component: Any) -> str:
    """The visible text of a component tree as Dash serialises it to the browser."""
    if component is None:
        return ""
    if isinstance(component, str | int | float):
        return str(component)
    if isinstance(component, list):
        return " ".join(filter(None, (component_text(child) for child in component)))
    return component_text(component.get("props", {}).get("children"))


def table_rows(table_children: Any) -> list[list[str]]:
    """The body rows of the trend table, each as its cells' text."""
    body = next(part for part in table_children if part["type"] == "Tbody")
    return [[component_text(cell) for cell in row["props"]["children"]] for row in body["props"]["children"]]


# --- pure formatting and suppression -----------------------------------------------------------------


@pytest.mark.parametrize(
    ("count", "shown"),
    [(0, 0), (1, None), (2, None), (4, None), (5, 5), (6, 6), (1234, 1234)],
)
def test_suppress_hides_counts_of_one_to_four_people(count: int, shown: int | None) -> None:
    assert SMALL_COUNT == 5
    assert suppress(count) == shown


@pytest.mark.parametrize(
    ("count", "text"),
    [(0, "0"), (1, "fewer than 5"), (4, "fewer than 5"), (5, "5"), (999, "999"), (1234, "1,234"), (10**6, "1,000,000")],
)
def test_format_people(count: int, text: str) -> None:
    assert format_people(count) == text


@pytest.mark.parametrize(("count", "text"), [(0, "0"), (3, "3"), (1234, "1,234"), (1234567, "1,234,567")])
def test_format_count_never_suppresses(count: int, text: str) -> None:
    assert format_count(count) == text


@pytest.mark.parametrize(
    ("hours", "text"),
    [(0, "0.0"), (12.5, "12.5"), (0.25, "0.3"), (2.25, "2.3"), (6.75, "6.8"), (0.1 + 0.2, "0.3"), (1234.56, "1,234.6")],
)
def test_format_hours_one_decimal_halves_up(hours: float, text: str) -> None:
    assert format_hours(hours) == text


@pytest.mark.parametrize(
    ("rate", "text"),
    [
        (None, "—"),
        (0.0, "0%"),
        (0.42, "42%"),
        (2 / 3, "67%"),
        (1 / 3, "33%"),
        (0.125, "13%"),
        (0.145, "15%"),
        (1, "100%"),
    ],
)
def test_format_percent(rate: float | None, text: str) -> None:
    assert format_percent(rate) == text


@pytest.mark.parametrize(
    ("month", "text"),
    [(date(2025, 1, 1), "Jan 2025"), (date(2024, 12, 31), "Dec 2024"), (date(2025, 9, 9), "Sep 2025")],
)
def test_format_month(month: date, text: str) -> None:
    assert format_month(month) == text


@pytest.mark.parametrize(
    ("month", "months", "expected"),
    [
        (date(2025, 1, 31), 1, date(2025, 2, 1)),
        (date(2025, 1, 15), -1, date(2024, 12, 1)),
        (date(2025, 12, 1), 1, date(2026, 1, 1)),
        (date(2025, 6, 15), -11, date(2024, 7, 1)),
        (date(2025, 6, 15), 0, date(2025, 6, 1)),
    ],
)
def test_add_months(month: date, months: int, expected: date) -> None:
    assert add_months(month, months) == expected


def test_months_between_includes_both_ends_months() -> None:
    assert months_between(date(2024, 11, 30), date(2025, 2, 1)) == [
        date(2024, 11, 1),
        date(2024, 12, 1),
        date(2025, 1, 1),
        date(2025, 2, 1),
    ]


@pytest.mark.parametrize(
    ("today", "expected"),
    [
        (date(2025, 6, 15), (date(2024, 7, 1), date(2025, 6, 15))),
        (date(2025, 1, 1), (date(2024, 2, 1), date(2025, 1, 1))),
        (date(2024, 12, 31), (date(2024, 1, 1), date(2024, 12, 31))),
    ],
)
def test_default_period_is_twelve_months_up_to_today(today: date, expected: tuple[date, date]) -> None:
    start, end = default_period(today)
    assert (start, end) == expected
    assert len(months_between(start, end)) == 12


@pytest.mark.parametrize(
    ("start", "end", "expected"),
    [
        ("2025-01-01", "2025-03-31", (date(2025, 1, 1), date(2025, 3, 31))),
        ("2025-01-01T00:00:00", "2025-03-31T00:00:00", (date(2025, 1, 1), date(2025, 3, 31))),
        ("2025-03-31", "2025-01-01", (date(2025, 1, 1), date(2025, 3, 31))),
        (None, "2025-01-01", None),
        ("2025-01-01", "", None),
        ("not a date", "2025-01-01", None),
    ],
)
def test_parse_period(start: str | None, end: str | None, expected: tuple[date, date] | None) -> None:
    assert parse_period(start, end) == expected


# --- real databases ----------------------------------------------------------------------------------


def _attendance(event_id: str, org_id: str, participant_id: str, hours: float, attended_on: date) -> Attendance:
    return Attendance(
        event_id=event_id,
        org_id=org_id,
        activity_id="act-1",
        participant_id=participant_id,
        hours=hours,
        session_role="attendee",
        attended_on=attended_on,
    )


def _contribution(org_id: str, contribution_id: str, made_on: date) -> Contribution:
    return Contribution(org_id=org_id, contribution_id=contribution_id, area="research", text="…", made_on=made_on)


def _change(org_id: str, change_id: str, status: str, recorded_on: date, decided_on: date | None) -> Change:
    return Change(
        org_id=org_id,
        change_id=change_id,
        area="research",
        title="A change",
        description="…",
        status=status,
        recorded_on=recorded_on,
        decided_on=decided_on,
    )


def _metric(org_id: str, month: date, area: str, people: int, hours: float, contributions: int) -> MonthlyMetric:
    return MonthlyMetric(
        org_id=org_id,
        month=month,
        area=area,
        participants_involved=people,
        involvement_hours=hours,
        contributions=contributions,
    )


@pytest.fixture
def involvement(engine: Engine) -> Engine:
    """Hand-counted facts of org-a, plus org-b rows that reuse org-a's ids to catch a missing org filter.

    In Q1 2025 org-a has: attendances by p1, p2 (6.75 hours); contributions c1 (p1, p4), c2 (p5), c3 (p2);
    so 4 people. Changes counted in Q1: ch1 (decided 1 Feb), ch2 (recorded 10 Mar), ch5 (decided 20 Jan);
    ch3 was decided in December and ch4 has no link. Influenced contributions: c1 (ch1 implemented) and
    c3 (ch3 agreed, and ch5 declined: counted once); c2 is linked only to the proposed ch2.
    Monthly rows are given directly: the processors, not the dashboard, own their consistency.
    """
    rows: list[Any] = [
        _attendance("e1", "org-a", "p1", 2.5, date(2025, 1, 10)),
        _attendance("e2", "org-a", "p2", 1.25, date(2025, 2, 5)),
        _attendance("e3", "org-a", "p1", 3.0, date(2025, 3, 31)),
        _attendance("e4", "org-a", "p3", 4.0, date(2024, 12, 31)),
        _attendance("e5", "org-a", "p9", 10.0, date(2025, 4, 1)),
        _attendance("e6", "org-b", "p1", 7.0, date(2025, 2, 1)),
        _contribution("org-a", "c1", date(2025, 1, 10)),
        _contribution("org-a", "c2", date(2025, 2, 20)),
        _contribution("org-a", "c3", date(2025, 3, 1)),
        _contribution("org-a", "c4", date(2024, 12, 15)),
        _contribution("org-b", "c2", date(2025, 2, 1)),
        ContributionParticipant(org_id="org-a", contribution_id="c1", participant_id="p1"),
        ContributionParticipant(org_id="org-a", contribution_id="c1", participant_id="p4"),
        ContributionParticipant(org_id="org-a", contribution_id="c2", participant_id="p5"),
        ContributionParticipant(org_id="org-a", contribution_id="c3", participant_id="p2"),
        ContributionParticipant(org_id="org-a", contribution_id="c4", participant_id="p6"),
        ContributionParticipant(org_id="org-b", contribution_id="c2", participant_id="p7"),
        _change("org-a", "ch1", "implemented", date(2025, 1, 15), date(2025, 2, 1)),
        _change("org-a", "ch2", "proposed", date(2025, 3, 10), None),
        _change("org-a", "ch3", "agreed", date(2024, 11, 1), date(2024, 12, 20)),
        _change("org-a", "ch4", "implemented", date(2025, 2, 10), date(2025, 3, 5)),
        _change("org-a", "ch5", "declined", date(2025, 1, 2), date(2025, 1, 20)),
        _change("org-b", "ch2", "implemented", date(2025, 2, 1), date(2025, 2, 10)),
        ChangeLink(org_id="org-a", change_id="ch1", contribution_id="c1", strength="major"),
        ChangeLink(org_id="org-a", change_id="ch1", contribution_id="c4", strength="minor"),
        ChangeLink(org_id="org-a", change_id="ch2", contribution_id="c2", strength="moderate"),
        ChangeLink(org_id="org-a", change_id="ch3", contribution_id="c3", strength="moderate"),
        ChangeLink(org_id="org-a", change_id="ch5", contribution_id="c3", strength="minor"),
        ChangeLink(org_id="org-b", change_id="ch2", contribution_id="c2", strength="major"),
        _metric("org-a", date(2024, 12, 1), OVERALL, 2, 4.0, 1),
        _metric("org-a", date(2025, 1, 1), OVERALL, 2, 2.5, 1),
        _metric("org-a", date(2025, 1, 1), "research", 9, 99.0, 9),
        _metric("org-a", date(2025, 3, 1), OVERALL, 7, 1234.25, 1234),
        _metric("org-a", date(2025, 4, 1), OVERALL, 50, 50.0, 50),
        _metric("org-b", date(2025, 2, 1), OVERALL, 2, 7.0, 1),
    ]
    with session_scope(engine) as session:
        session.add_all(rows)
    return engine


Q1 = (date(2025, 1, 1), date(2025, 3, 31))


@pytest.mark.parametrize(
    ("org_id", "period", "expected"),
    [
        ("org-a", Q1, Headline(4, 6.75, 3, 3, 2)),
        ("org-a", (date(2024, 12, 1), date(2025, 4, 30)), Headline(7, 20.75, 4, 4, 3)),
        ("org-a", (date(2025, 1, 10), date(2025, 1, 10)), Headline(2, 2.5, 1, 0, 1)),
        ("org-b", (date(2025, 2, 1), date(2025, 2, 28)), Headline(2, 7.0, 1, 1, 1)),
        ("org-b", (date(2025, 3, 1), date(2025, 3, 31)), Headline(0, 0.0, 0, 0, 0)),
        ("org-c", Q1, Headline(0, 0.0, 0, 0, 0)),
    ],
)
def test_headline_figures(involvement: Engine, org_id: str, period: tuple[date, date], expected: Headline) -> None:
    start, end = period
    with Session(involvement) as session:
        assert headline_figures(session=session, org_id=org_id, start=start, end=end) == expected


def test_influence_rate_is_none_without_contributions() -> None:
    assert Headline(0, 0.0, 0, 0, 0).influence_rate is None
    assert Headline(4, 6.75, 3, 3, 2).influence_rate == pytest.approx(2 / 3)


def test_monthly_trend_starts_at_the_first_of_the_start_month_and_fills_gaps(involvement: Engine) -> None:
    with Session(involvement) as session:
        trend = monthly_trend(session=session, org_id="org-a", start=date(2025, 1, 15), end=date(2025, 3, 31))
    assert trend == [
        MonthlyFigures(date(2025, 1, 1), 2, 2.5, 1),
        MonthlyFigures(date(2025, 2, 1), 0, 0.0, 0),
        MonthlyFigures(date(2025, 3, 1), 7, 1234.25, 1234),
    ]


def test_organisations_are_listed_once_in_order(involvement: Engine) -> None:
    with Session(involvement) as session:
        assert organisations(session=session) == ["org-a", "org-b"]


# --- the app end to end ------------------------------------------------------------------------------


@pytest.fixture
def client(involvement: Engine) -> FlaskClient:
    return create_app(engine=involvement).server.test_client()


def test_overview_callback_shows_the_figures_with_small_counts_suppressed(client: FlaskClient) -> None:
    outputs = post_overview(client, "org-a", "2025-01-15", "2025-03-31")

    assert outputs["participants-involved"] == "fewer than 5"  # p1, p2 attended; p5, p2 contributed
    assert outputs["involvement-hours"] == "4.3"  # 1.25 + 3.0: the 10 January attendance is before the start
    assert outputs["contributions"] == "2"  # c2, c3
    assert outputs["changes-influenced"] == "3"  # ch1, ch2, ch5
    assert outputs["influence-rate"] == "50%"  # c3 of c2, c3

    figure: Any = outputs["trend-chart"]
    contributions, participants, hours = figure["data"]
    assert contributions["x"] == ["Jan 2025", "Feb 2025", "Mar 2025"]
    assert contributions["y"] == [1, 0, 1234]
    assert participants["y"] == [None, 0, 7]  # January's 2 people are a gap, not a bar
    assert hours["y"] == [2.5, 0.0, 1234.25]
    # the privacy note stands above the chart (in the layout), never drawn over the axis labels
    assert all("fewer than 5" not in note["text"] for note in figure["layout"].get("annotations", []))

    assert table_rows(outputs["trend-table"]) == [
        ["Jan 2025", "1", "fewer than 5", "2.5"],
        ["Feb 2025", "0", "0", "0.0"],
        ["Mar 2025", "1,234", "7", "1,234.3"],
    ]


def test_overview_callback_over_a_longer_period_shows_five_or_more_people(client: FlaskClient) -> None:
    outputs = post_overview(client, "org-a", date(2024, 12, 1), date(2025, 4, 30))
    assert [outputs[id_] for id_, _ in OVERVIEW_OUTPUTS[:5]] == ["7", "20.8", "4", "4", "75%"]


def test_overview_callback_shows_zero_and_a_dash_for_an_empty_period(client: FlaskClient) -> None:
    outputs = post_overview(client, "org-b", "2025-03-01", "2025-03-31")
    assert [outputs[id_] for id_, _ in OVERVIEW_OUTPUTS[:5]] == ["0", "0.0", "0", "0", "—"]
    assert table_rows(outputs["trend-table"]) == [["Mar 2025", "0", "0", "0.0"]]


def test_page_has_labelled_filters_landmarks_and_a_live_figures_region(client: FlaskClient) -> None:
    layout = client.get("/_dash-layout").get_json()
    found: dict[str, list[dict[str, Any]]] = {}

    def walk(component: Any) -> None:
        if isinstance(component, list):
            for child in component:
                walk(child)
        elif isinstance(component, dict) and "type" in component:
            found.setdefault(component["type"], []).append(component["props"])
            walk(component["props"].get("children"))

    walk(layout)
    assert {"Header", "Main", "H1", "Fieldset", "Legend", "Dl", "Table"} <= found.keys()
    assert [props["children"] for props in found["H1"]] == ["Involvement overview"]
    assert {"htmlFor": "org", "children": "Organisation"}.items() <= found["Label"][0].items()
    assert found["Dropdown"][0]["value"] == "org-a"
    assert found["Dl"][0]["aria-live"] == "polite"
    assert {props["id"] for props in found["Dd"] if "id" in props} == {id_ for id_, _ in OVERVIEW_OUTPUTS[:5]}

    with client.get("/") as page:
        assert '<html lang="en-GB">' in page.get_data(as_text=True)


def test_healthz_is_ok_when_the_database_answers(client: FlaskClient) -> None:
    response = client.get("/healthz")
    assert response.status_code == 200
    assert response.get_json() == {"status": "ok"}


def test_healthz_is_unavailable_when_the_database_is_gone(tmp_path: Path) -> None:
    path = tmp_path / "impact.db"
    engine = make_engine(f"sqlite:///{path}")
    client = create_app(engine=engine).server.test_client()
    engine.dispose()
    for leftover in tmp_path.glob("impact.db*"):
        leftover.unlink()
    path.mkdir()  # a directory where the database file was: SQLite cannot open it

    response = client.get("/healthz")

    assert response.status_code == 503
    assert response.get_json()["status"] == "unavailable"
    assert "cannot be read right now" in component_text(client.get("/_dash-layout").get_json())
    engine.dispose()


def test_app_factory_makes_the_tables_of_a_fresh_database(tmp_path: Path) -> None:
    engine = make_engine(f"sqlite:///{tmp_path / 'fresh.db'}")
    client = create_app(engine=engine).server.test_client()
    assert client.get("/healthz").status_code == 200
    outputs = post_overview(client, "org-a", "2025-01-01", "2025-01-31")
    assert outputs["influence-rate"] == "—"
    engine.dispose()
