"""Dashboard: formatting and suppression, read-model queries on SQLite and PostgreSQL, the page end to end.

The page needs a signed-in reader (leadership or admin) and shows only their organisation's figures.
"""

from __future__ import annotations

import json
import re
from collections.abc import Callable
from datetime import date
from pathlib import Path
from typing import Any
from urllib.parse import parse_qs, urlsplit

import pytest
from dash import no_update
from flask import Flask
from flask.testing import FlaskClient
from plotly.io.json import to_json_plotly
from sqlalchemy import Engine, text
from sqlmodel import Session

from dashboard import create_app, shell
from dashboard.filters import Filters, parse, parse_search
from dashboard.formatting import (
    add_months,
    default_period,
    format_count,
    format_hours,
    format_month,
    format_people,
    format_percent,
    months_between,
)
from dashboard.metrics import SMALL_COUNT, suppress
from dashboard.tables import Table, to_csv
from impact.auth.accounts import Role
from impact.auth.sessions import SignedIn
from impact.db import make_engine, session_scope
from impact.settings import Environment, Settings
from schemas.readmodels import (
    Activity,
    Attendance,
    Change,
    ChangeLink,
    Contribution,
    ContributionParticipant,
)
from tests.conftest import PASSWORD, add_organisation, csrf_from, sign_in

HEADLINE_IDS = ("participants-involved", "involvement-hours", "contributions", "changes-influenced", "influence-rate")


def callback_body(
    start: date | str,
    end: date | str,
    *,
    path: str = "/",
    inputs: list[dict[str, Any]] | None = None,
    state: list[dict[str, Any]] | None = None,
) -> dict[str, Any]:
    """The callback's request exactly as the browser sends it on opening `path?from=start&to=end` (or as given)."""
    body = shell.callback_body(path, f"?from={start}&to={end}")
    if inputs is not None:
        body["inputs"] = inputs
    if state is not None:
        body["state"] = state
    return body


def post_page(client: FlaskClient, body: dict[str, Any]) -> dict[str, Any]:
    """Run the callback as the signed-in browser does: output id -> new value."""
    response = client.post("/_dash-update-component", json=body)
    assert response.status_code == 200, response.get_data(as_text=True)
    payload = response.get_json()
    assert payload["multi"] is True
    return {id_: props if len(props) > 1 else next(iter(props.values())) for id_, props in payload["response"].items()}


def by_id(tree: Any) -> dict[str, dict[str, Any]]:
    """Every component of a serialised tree that has an id: id -> its props."""
    found: dict[str, dict[str, Any]] = {}

    def walk(component: Any) -> None:
        if isinstance(component, list):
            for child in component:
                walk(child)
        elif isinstance(component, dict) and "props" in component:
            props = component["props"]
            if isinstance(props.get("id"), str):
                found[props["id"]] = props
            walk(props.get("children"))

    walk(tree)
    return found


def post_overview(client: FlaskClient, start: date | str, end: date | str) -> dict[str, object]:
    """The overview for a period: each headline figure's text, its change, the trend chart and table."""
    content = by_id(post_page(client, callback_body(start, end))["content"])
    figures: dict[str, object] = {id_: content[id_]["children"] for id_ in HEADLINE_IDS}
    figures |= {f"{id_}-change": content[f"{id_}-change"]["children"] for id_ in HEADLINE_IDS}
    figures["trend-chart"] = content["trend-chart"]["figure"]
    figures["trend-table"] = content["trend-table"]["children"]
    return figures


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
    """The body rows of a table, each as its cells' text."""
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


TODAY = date(2025, 6, 15)
DEFAULT = Filters(date(2024, 7, 1), TODAY)


@pytest.mark.parametrize(
    ("search", "expected", "problem"),
    [
        ("", DEFAULT, None),
        ("?from=2025-01-01&to=2025-03-31", Filters(date(2025, 1, 1), date(2025, 3, 31)), None),
        ("?from=2025-01-01T00:00:00&to=2025-03-31T00:00:00", Filters(date(2025, 1, 1), date(2025, 3, 31)), None),
        ("?from=2025-03-31&to=2025-01-01", Filters(date(2025, 1, 1), date(2025, 3, 31)), "were swapped"),
        ("?area=research&level=user_led", Filters(date(2024, 7, 1), TODAY, "research", "user_led"), None),
        ("?from=not+a+date", DEFAULT, "The start date “not a date” is not a date like 2025-03-31"),
        ("?to=1899-01-01", DEFAULT, "outside 2000 to 2100"),
        ("?area=<script>", DEFAULT, "There is no activity area called “<script>”, so every area is shown."),
        ("?level=top", DEFAULT, "There is no level of involvement called “top”"),
        ("?from=2000-01-01&to=2025-01-01", Filters(date(2000, 1, 1), date(2009, 12, 31)), "longer than ten years"),
        ("?area=&level=&unknown=1", DEFAULT, None),
    ],
)
def test_filters_come_from_the_url_and_anything_malformed_is_named(
    search: str, expected: Filters, problem: str | None
) -> None:
    filters = parse_search(search, TODAY)
    assert filters == expected
    if problem is None:
        assert filters.problems == ()
    else:
        assert len(filters.problems) == 1 and problem in filters.problems[0]


def test_filters_write_the_same_url_they_read() -> None:
    filters = Filters(date(2025, 1, 1), date(2025, 3, 31), "research", "co_production")
    assert filters.search() == "?from=2025-01-01&to=2025-03-31&area=research&level=co_production"
    assert parse_search(filters.search(), TODAY) == filters
    assert filters.describe() == "1 Jan 2025 to 31 Mar 2025, area: Research, level: Co-production"
    scope = filters.to_scope("org-a")
    assert (scope.start, scope.end, scope.area, scope.level) == (
        date(2025, 1, 1),
        date(2025, 4, 1),
        "research",
        "co_production",
    )
    assert parse({}, TODAY).search() == "?from=2024-07-01&to=2025-06-15"


def test_the_previous_period_has_the_same_length_and_ends_the_day_before() -> None:
    previous = Filters(date(2025, 1, 15), date(2025, 3, 31), "research").previous()
    assert previous == Filters(date(2024, 10, 31), date(2025, 1, 14), "research")


def test_csv_cells_a_spreadsheet_would_run_start_with_an_apostrophe() -> None:
    table = Table(
        key="t",
        caption="Changes",
        columns=("Change", "Count"),
        rows=[['=HYPERLINK("http://x")', "-3"], ["+1 more", "1,234"], ["@SUM(A1)", "12%"], ["Plain, with comma", "0"]],
    )
    assert to_csv(table, "all areas").splitlines() == [
        "Changes (all areas)",
        "Change,Count",
        '"\'=HYPERLINK(""http://x"")",-3',
        '\'+1 more,"1,234"',
        "'@SUM(A1),12%",
        '"Plain, with comma",0',
    ]


# --- read models: hand-counted facts, on SQLite and PostgreSQL -------------------------------------------


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


@pytest.fixture
def involvement(engine: Engine) -> Engine:
    """Hand-counted facts of org-a, plus org-b rows that reuse org-a's ids to catch a missing org filter.

    In Q1 2025 org-a has: attendances by p1, p2 (6.75 hours); contributions c1 (p1, p4), c2 (p5), c3 (p2);
    so 4 people. Changes counted in Q1: ch1 (decided 1 Feb), ch2 (recorded 10 Mar), ch5 (decided 20 Jan);
    ch3 was decided in December and ch4 has no link. Influenced contributions: c1 (ch1 implemented) and
    c3 (ch3 agreed, and ch5 declined: counted once); c2 is linked only to the proposed ch2.
    """
    rows: list[Any] = [
        *(
            Activity(
                org_id=org,
                activity_id="act-1",
                title="Panel",
                area="research",
                level="consultation",
                held_on=date(2024, 12, 31),
                duration_hours=10.0,
            )
            for org in ("org-a", "org-b")
        ),
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
    ]
    with session_scope(engine) as session:
        session.add_all(rows)
    return engine


# --- the app end to end: signed in, and scoped to the reader's organisation ----------------------------

ORG_NAMES = {"org-a": "Alpha Carers Forum", "org-b": "Beta Voices Network"}
FEBRUARY = (date(2025, 2, 1), date(2025, 2, 28))
# February 2025 in the `involvement` fixture: participants, hours, contributions, changes, influence rate
FEBRUARY_FIGURES = {
    "org-a": ["fewer than 5", "1.3", "1", "1", "0%"],  # p2's 1.25 hours; c2 linked to the proposed ch2
    "org-b": ["fewer than 5", "7.0", "1", "1", "100%"],  # p1's 7 hours; its c2 linked to its implemented ch2
}
ORG_B_ONLY = ("Beta Voices Network", "org-b")  # nothing of org-a's shows any of these


def headline(outputs: dict[str, object]) -> list[object]:
    return [outputs[id_] for id_ in HEADLINE_IDS]


def components(layout: Any) -> dict[str, list[dict[str, Any]]]:
    """Every component of a serialised layout, by type, as its props."""
    found: dict[str, list[dict[str, Any]]] = {}

    def walk(component: Any) -> None:
        if isinstance(component, list):
            for child in component:
                walk(child)
        elif isinstance(component, dict) and "type" in component:
            found.setdefault(component["type"], []).append(component["props"])
            walk(component["props"].get("children"))

    walk(layout)
    return found


def sign_out_token(client: FlaskClient) -> str:
    """The CSRF token of the page's sign-out button (a submit button sends its name and value)."""
    [button] = [props for props in components(client.get("/_dash-layout").get_json())["Button"]]
    assert (button["children"], button["type"], button["name"]) == ("Sign out", "submit", "csrf_token")
    return str(button["value"])


@pytest.fixture
def settings(tmp_path: Path) -> Settings:
    return Settings(env=Environment.test, secret_key="t" * 40, data_dir=tmp_path / "var")


@pytest.fixture
def accounts(involvement: Engine) -> dict[str, dict[str, str]]:
    """org-a and org-b, each with one account per role: {org: {role: e-mail}}."""
    return {org_id: add_organisation(involvement, org_id, name=name) for org_id, name in ORG_NAMES.items()}


@pytest.fixture
def server(involvement: Engine, settings: Settings) -> Flask:
    server: Flask = create_app(settings, involvement).server
    return server


@pytest.fixture
def visitor(server: Flask) -> FlaskClient:
    """Nobody signed in."""
    return server.test_client()


@pytest.fixture
def client_of(server: Flask, accounts: dict[str, dict[str, str]]) -> Callable[..., FlaskClient]:
    """`client_of(org_id, role="leadership")` -> a client signed in as that organisation's account."""

    def signed_in(org_id: str, role: str = "leadership") -> FlaskClient:
        client = server.test_client()
        sign_in(client, accounts[org_id][role])
        return client

    return signed_in


@pytest.fixture
def client(client_of: Callable[..., FlaskClient]) -> FlaskClient:
    """Leadership of org-a."""
    return client_of("org-a")


def test_overview_callback_shows_the_figures_with_small_counts_suppressed(client: FlaskClient) -> None:
    outputs = post_overview(client, "2025-01-15", "2025-03-31")

    assert outputs["participants-involved"] == "fewer than 5"  # p1, p2 attended; p5, p2 contributed
    assert outputs["involvement-hours"] == "4.3"  # 1.25 + 3.0: the 10 January attendance is before the start
    assert outputs["contributions"] == "2"  # c2, c3
    assert outputs["changes-influenced"] == "3"  # ch1, ch2, ch5
    assert outputs["influence-rate"] == "50%"  # c3 of c2, c3
    # against 31 Oct 2024 to 14 Jan 2025: p3, p1, p6, p4; 6.5 hours; c4, c1; ch3; c4 and c1 both influenced
    assert outputs["participants-involved-change"] == "no comparison: too few people to show"
    assert outputs["involvement-hours-change"] == "down 2.3 from 6.5"
    assert outputs["contributions-change"] == "no change from 2"
    assert outputs["changes-influenced-change"] == "up 2 from 1"
    assert outputs["influence-rate-change"] == "down 50 percentage points from 100%"

    figure: Any = outputs["trend-chart"]
    contributions, participants, hours = figure["data"]
    assert contributions["x"] == ["Jan 2025", "Feb 2025", "Mar 2025"]
    assert contributions["y"] == [0, 1, 1]
    assert participants["y"] == [0, None, None]  # two people a month: a gap, not a bar
    assert hours["y"] == [0.0, 1.25, 3.0]

    assert table_rows(outputs["trend-table"]) == [
        ["Jan 2025", "0", "0", "0.0", "1"],  # from the 15th: c1 and p1's attendance are before; ch5 decided
        ["Feb 2025", "1", "fewer than 5", "1.3", "1"],
        ["Mar 2025", "1", "fewer than 5", "3.0", "1"],
    ]


def test_overview_callback_over_a_longer_period_shows_five_or_more_people(client: FlaskClient) -> None:
    outputs = post_overview(client, date(2024, 12, 1), date(2025, 4, 30))
    assert headline(outputs) == ["7", "20.8", "4", "4", "75%"]


def test_overview_callback_shows_zero_and_a_dash_for_an_empty_period(client_of: Callable[..., FlaskClient]) -> None:
    outputs = post_overview(client_of("org-b"), "2025-03-01", "2025-03-31")
    assert headline(outputs) == ["0", "0.0", "0", "0", "—"]
    assert table_rows(outputs["trend-table"]) == [["Mar 2025", "0", "0", "0.0", "0"]]


@pytest.mark.parametrize(("org_id", "role"), [("org-a", "leadership"), ("org-b", "leadership"), ("org-b", "admin")])
def test_each_reader_sees_their_own_organisations_figures(
    client_of: Callable[..., FlaskClient], org_id: str, role: str
) -> None:
    outputs = post_overview(client_of(org_id, role), *FEBRUARY)
    assert headline(outputs) == FEBRUARY_FIGURES[org_id]
    trend_row = ["Feb 2025", "1", "fewer than 5", "7.0" if org_id == "org-b" else "1.3", "1"]
    assert table_rows(outputs["trend-table"]) == [trend_row]


def test_opening_a_url_sets_the_filters_and_a_filter_change_rewrites_the_url(client: FlaskClient) -> None:
    opened = post_page(client, shell.callback_body("/", "?from=2025-01-15&to=2025-03-31&level=co_production"))
    assert "url" not in opened  # Dash leaves out an output the callback did not update: the URL says it all
    assert opened["period"] == {"start_date": "2025-01-15", "end_date": "2025-03-31"}
    assert (opened["area"], opened["level"]) == ("", "co_production")

    # the reader picks an area: the URL gains it, and the figures follow (nothing there is co-produced)
    body = shell.callback_body("/", "?from=2025-01-15&to=2025-03-31&level=co_production", changed="area.value")
    body["inputs"][2:] = [
        {"id": "period", "property": "start_date", "value": "2025-01-15"},
        {"id": "period", "property": "end_date", "value": "2025-03-31"},
        {"id": "area", "property": "value", "value": "research"},
        {"id": "level", "property": "value", "value": "co_production"},
    ]
    changed = post_page(client, body)
    assert changed["url"] == "?from=2025-01-15&to=2025-03-31&area=research&level=co_production"
    content = by_id(changed["content"])
    assert "15 Jan 2025 to 31 Mar 2025, area: Research, level: Co-production" in component_text(
        content["scope"]["children"]
    )
    assert content["contributions"]["children"] == "0"
    nav = component_text(changed["nav"])
    assert nav.startswith("Overview  (this page) Influence")  # the hidden words follow the current page
    hrefs = [props["href"] for id_, props in by_id(changed["nav"]).items() if id_.startswith("nav-")]
    assert all(href.endswith("?from=2025-01-15&to=2025-03-31&area=research&level=co_production") for href in hrefs)


def test_a_malformed_url_opens_the_default_view_and_says_what_it_ignored(client: FlaskClient) -> None:
    outputs = post_page(client, shell.callback_body("/", "?from=2025-13-45&area=<b>nope</b>"))
    default = parse({}, date.today())
    assert outputs["url"] == default.search()
    content = component_text(outputs["content"])
    assert "The start date “2025-13-45” is not a date like 2025-03-31, so the default is used." in content
    assert "There is no activity area called “<b>nope</b>”, so every area is shown." in content


def test_half_a_date_range_waits_for_the_other_date(involvement: Engine) -> None:
    outputs = shell.respond(
        involvement, "org-a", "/", date(2025, 6, 1), "period", "/", "", ("2025-01-01", None, "", "")
    )
    assert outputs == (no_update,) * len(shell.OUTPUTS)


def test_a_csv_says_so_when_the_figures_cannot_be_read(client: FlaskClient, involvement: Engine) -> None:
    with involvement.connect() as conn:  # the read models are gone: the export fails, and says so
        conn.execute(text("DROP TABLE attendance"))
        conn.commit()
    response = client.get("/export/overview/trend.csv")
    assert response.status_code == 503
    assert shell.UNAVAILABLE in response.get_data(as_text=True)


def test_an_unknown_page_says_so_and_links_to_every_page(client: FlaskClient) -> None:
    outputs = post_page(client, shell.callback_body("/nowhere", ""))
    assert by_id(outputs["heading"])["page-title"]["children"] == "Page not found"
    assert outputs["page-meta"] == {"title": "Page not found", "path": "/nowhere"}
    assert len([id_ for id_ in by_id(outputs["nav"]) if id_.startswith("nav-")]) == len(shell.PAGES) + 1


def test_every_table_downloads_as_csv_with_the_same_rows(client: FlaskClient) -> None:
    response = client.get("/export/overview/trend.csv?from=2025-01-15&to=2025-03-31")
    assert response.status_code == 200
    assert response.mimetype == "text/csv"
    assert response.headers["Content-Disposition"] == (
        'attachment; filename="overview-trend-2025-01-15-to-2025-03-31.csv"'
    )
    assert response.headers["Cache-Control"] == "no-store"
    assert response.get_data(as_text=True).lstrip("\ufeff").splitlines() == [
        '"Monthly figures (15 Jan 2025 to 31 Mar 2025, all areas, all levels)"',  # quoted: it has commas
        "Month,Contributions,Participants involved,Involvement hours,Changes influenced",
        "Jan 2025,0,0,0.0,1",
        "Feb 2025,1,fewer than 5,1.3,1",
        "Mar 2025,1,fewer than 5,3.0,1",
    ]
    assert client.get("/export/overview/nothing.csv").status_code == 404
    assert client.get("/export/nowhere/trend.csv").status_code == 404


def test_csv_exports_need_a_reader(visitor: FlaskClient, client_of: Callable[..., FlaskClient]) -> None:
    response = visitor.get("/export/overview/trend.csv")
    assert response.status_code == 302 and response.headers["Location"].startswith("/login")
    assert client_of("org-a", "staff").get("/export/overview/trend.csv").status_code == 403


ORG_B = {"id": "org", "property": "value", "value": "org-b"}
PERIOD = [
    {"id": "period", "property": "start_date", "value": "2025-02-01"},
    {"id": "period", "property": "end_date", "value": "2025-02-28"},
]


@pytest.mark.parametrize(
    "tampered",
    [
        pytest.param({"inputs": [ORG_B, *PERIOD]}, id="org-b-as-the-old-organisation-input"),
        pytest.param({"inputs": [*PERIOD, ORG_B]}, id="org-b-as-an-extra-input"),
        pytest.param({"inputs": PERIOD, "state": [ORG_B]}, id="org-b-as-state"),
        pytest.param({"inputs": [{**PERIOD[0], "id": "org-b"}, PERIOD[1]]}, id="org-b-as-a-component-id"),
    ],
)
def test_no_callback_request_gets_another_organisations_figures(client: FlaskClient, tampered: dict[str, Any]) -> None:
    """Leadership of org-a sends org-b's id every way the callback request allows: never org-b's figures."""
    response = client.post("/_dash-update-component", json=callback_body(*FEBRUARY, **tampered))

    body = response.get_data(as_text=True)
    assert not any(shown in body for shown in ORG_B_ONLY), body[:500]
    # the callback takes the period only, so a request naming an organisation does not match it
    assert response.status_code == 400, body[:500]
    assert response.get_json()["message"] == "This request does not match a callback of the dashboard."


def test_the_organisation_comes_from_the_session_not_the_request(client: FlaskClient) -> None:
    """Well-formed callback requests carrying org-b's id elsewhere still get org-a's figures."""
    body = callback_body(*FEBRUARY) | {"org_id": "org-b"}
    for response in (
        client.post("/_dash-update-component?org_id=org-b", json=body),
        client.post("/_dash-update-component", json=body, headers={"X-Org-Id": "org-b"}),
    ):
        assert response.status_code == 200
        content = by_id(response.get_json()["response"]["content"]["children"])
        assert [content[id_]["children"] for id_ in HEADLINE_IDS] == FEBRUARY_FIGURES["org-a"]
        assert response.headers["Cache-Control"] == "no-store"


def test_signed_out_pages_go_to_the_sign_in_page(visitor: FlaskClient) -> None:
    for path, next_url in (("/", "/"), ("/anything?period=1", "/anything?period=1")):
        response = visitor.get(path)
        assert response.status_code == 302
        location = urlsplit(response.headers["Location"])
        assert (location.path, parse_qs(location.query)) == ("/login", {"next": [next_url]})


def test_signed_out_dash_requests_get_401_and_no_figures(visitor: FlaskClient) -> None:
    responses = [
        visitor.get("/_dash-layout"),
        visitor.get("/_dash-dependencies"),
        visitor.post("/_dash-update-component", json=callback_body(*FEBRUARY)),
    ]
    for response in responses:
        assert response.status_code == 401
        assert response.get_json() == {"status": 401, "message": "Sign in to see the dashboard."}
        assert response.headers["X-Sign-In"] == "/login"  # assets/session.js opens it


def test_files_that_are_the_same_for_everyone_stay_public(client: FlaskClient, visitor: FlaskClient) -> None:
    page = client.get("/").get_data(as_text=True)
    scripts = re.findall(r'src="(/_dash-component-suites/[^"]+)"', page)
    assert scripts, page[:500]
    for path in (scripts[0], "/assets/dashboard.css", "/assets/session.js", "/_favicon.ico", "/static/sign_in.js"):
        with visitor.get(path) as response:  # files: closed after reading
            assert response.status_code == 200, path


def test_staff_may_not_read_the_dashboard(client_of: Callable[..., FlaskClient]) -> None:
    staff = client_of("org-a", "staff")

    page = staff.get("/")
    assert page.status_code == 403
    text = page.get_data(as_text=True)
    assert "<h1>You cannot use the dashboard</h1>" in text
    assert 'action="/logout"' in text and 'name="csrf_token"' in text  # to sign in as someone else
    for response in (staff.get("/_dash-layout"), staff.post("/_dash-update-component", json=callback_body(*FEBRUARY))):
        assert response.status_code == 403
        assert "response" not in response.get_json()


def test_layout_names_only_the_reader_and_their_organisation(client: FlaskClient) -> None:
    response = client.get("/_dash-layout")
    assert response.status_code == 200
    assert response.headers["Cache-Control"] == "no-store"
    layout = response.get_json()
    found = components(layout)

    [signed_in] = [props for props in found["P"] if props.get("id") == "signed-in"]
    assert signed_in["children"] == "Signed in as Leadership of org-a · Alpha Carers Forum"
    [form] = found["Form"]
    assert (form["method"], form["action"]) == ("post", "/logout")
    assert [props["id"] for props in found["Dropdown"]] == ["area", "level"]  # no organisation to choose
    text = json.dumps(layout)
    assert not any(other in text for other in ORG_B_ONLY)


def test_page_has_landmarks_navigation_and_labelled_filters(client: FlaskClient) -> None:
    found = components(client.get("/_dash-layout").get_json())

    assert {"Header", "Nav", "Main", "Fieldset", "Legend", "Label", "Form", "Button", "Location"} <= found.keys()
    [nav] = found["Nav"]
    assert nav["aria-label"] == "Dashboard pages"
    assert [props["children"] for props in found["Legend"]] == ["Period (from and to dates, inclusive)"]
    assert found["DatePickerRange"][0]["id"] == "period"
    assert {(props["htmlFor"], props["children"]) for props in found["Label"]} == {
        ("area", "Activity area"),
        ("level", "Level of involvement"),
    }
    [announcer] = [props for props in found["P"] if props.get("id") == "announcer"]
    assert announcer["role"] == "status"

    with client.get("/influence?from=2025-01-01") as page:  # every page's address serves the dashboard
        assert page.status_code == 200
        assert '<html lang="en-GB">' in page.get_data(as_text=True)


def test_the_page_says_so_when_the_figures_cannot_be_read(tmp_path: Path) -> None:
    broken = tmp_path / "broken.db"
    broken.mkdir()  # a directory where the database should be: SQLite cannot open it
    engine = make_engine(f"sqlite:///{broken}")
    person = SignedIn(1, "org-a", Role.leadership, "Lee", "lee@org-a.example.org", "v")

    page = shell.layout(engine, shell.Reader(person, sign_out_url="/logout", csrf_token="t"), date(2025, 6, 1))
    found = components(json.loads(to_json_plotly(page)))
    [signed_in] = [props for props in found["P"] if props.get("id") == "signed-in"]
    assert signed_in["children"] == "Signed in as Lee · org-a"  # the organisation's id stands in for its name

    outputs = shell.respond(engine, "org-a", "/", date(2025, 6, 1), None, "/", "", (None, None, "", ""))
    assert shell.UNAVAILABLE in component_text(json.loads(to_json_plotly(outputs[7])))
    engine.dispose()


def test_login_page_is_accessible_and_carries_a_csrf_token(visitor: FlaskClient) -> None:
    response = visitor.get("/login?next=/")
    assert response.status_code == 200
    page = response.get_data(as_text=True)
    assert '<html lang="en-GB">' in page
    assert "<title>Sign in to the dashboard \N{EN DASH} Involvement Impact</title>" in page
    assert "<h1>Sign in</h1>" in page
    assert '<script src="/static/sign_in.js" defer></script>' in page  # focuses the error summary
    assert '<label for="email">' in page and 'id="email"' in page and 'autocomplete="username"' in page
    assert '<label for="password">' in page and 'autocomplete="current-password"' in page
    assert '<input type="hidden" name="next" value="/">' in page
    assert csrf_from(visitor, "/login")
    assert 'role="alert"' not in page

    signed_out = visitor.get("/login?signed_out=1").get_data(as_text=True)
    assert '<div class="notice notice-success" role="status">You have signed out.</div>' in signed_out


def test_a_wrong_password_is_summarised_and_linked_to_the_field(
    visitor: FlaskClient, accounts: dict[str, dict[str, str]]
) -> None:
    email = accounts["org-a"]["leadership"]
    data = {"email": email, "password": "not the password", "csrf_token": csrf_from(visitor, "/login")}

    response = visitor.post("/login", data=data)

    assert response.status_code == 401
    page = response.get_data(as_text=True)
    assert "<title>Error: Sign in to the dashboard" in page
    assert 'role="alert"' in page and '<a href="#email">The e-mail address or password is not right.</a>' in page
    assert 'aria-invalid="true" aria-describedby="email-error"' in page and 'id="email-error"' in page
    assert f'value="{email}"' in page
    assert visitor.get("/").status_code == 302  # not signed in


@pytest.mark.parametrize("token", [None, "not-a-token"])
def test_login_without_a_valid_csrf_token_is_refused(
    visitor: FlaskClient, accounts: dict[str, dict[str, str]], token: str | None
) -> None:
    csrf_from(visitor, "/login")  # the session has a CSRF secret: only the form's token is missing or wrong
    data = {"email": accounts["org-a"]["leadership"], "password": PASSWORD}
    if token is not None:
        data["csrf_token"] = token

    response = visitor.post("/login", data=data)

    assert response.status_code == 400
    page = response.get_data(as_text=True)
    assert "This form had expired or did not come from this site" in page
    assert 'aria-invalid="true"' not in page  # nothing is wrong with the fields
    assert visitor.get("/").status_code == 302
    assert visitor.post("/_dash-update-component", json=callback_body(*FEBRUARY)).status_code == 401


def test_signing_in_returns_to_the_page_asked_for_and_never_to_another_site(
    visitor: FlaskClient, accounts: dict[str, dict[str, str]]
) -> None:
    email = accounts["org-a"]["leadership"]
    for next_url, expected in (("/?period=1", "/?period=1"), ("https://evil.example/", "/"), ("", "/")):
        client = visitor.application.test_client()
        data = {"email": email, "password": PASSWORD, "next": next_url, "csrf_token": csrf_from(client, "/login")}
        response = client.post("/login", data=data)
        assert response.status_code == 302
        assert response.headers["Location"] == expected


def test_sign_out_needs_the_token_and_ends_the_session(client: FlaskClient) -> None:
    token = sign_out_token(client)

    assert client.post("/logout").status_code == 400  # a cross-site form cannot sign anyone out
    assert client.post("/logout", data={"csrf_token": "forged"}).status_code == 400
    assert post_overview(client, *FEBRUARY)  # still signed in

    response = client.post("/logout", data={"csrf_token": token})
    assert response.status_code == 302
    assert response.headers["Location"] == "/login?signed_out=1"

    after = client.post("/_dash-update-component", json=callback_body(*FEBRUARY))
    assert after.status_code == 401
    assert "response" not in after.get_json()
    assert client.get("/").status_code == 302


def test_session_cookie_is_http_only_and_same_site_lax(
    visitor: FlaskClient, accounts: dict[str, dict[str, str]]
) -> None:
    data = {"email": accounts["org-a"]["leadership"], "password": PASSWORD}
    response = visitor.post("/login", data=data | {"csrf_token": csrf_from(visitor, "/login")})
    [cookie] = [value for value in response.headers.getlist("Set-Cookie") if "session=" in value]
    assert cookie.startswith("impact_dashboard_session=")
    assert "HttpOnly" in cookie and "SameSite=Lax" in cookie
    assert "Secure" not in cookie  # plain HTTP outside production


def test_session_cookie_is_secure_in_production(involvement: Engine, tmp_path: Path) -> None:
    settings = Settings(
        env=Environment.production, secret_key="p" * 40, database_url="sqlite://", data_dir=tmp_path / "var"
    )
    server = create_app(settings, involvement).server
    assert server.config["SESSION_COOKIE_SECURE"] is True
    assert server.config["SECRET_KEY"] == "p" * 40


def test_healthz_is_public_and_ok_when_the_database_answers(visitor: FlaskClient) -> None:
    response = visitor.get("/healthz")
    assert response.status_code == 200
    assert response.get_json() == {"status": "ok"}


def test_healthz_is_unavailable_when_the_database_is_gone(tmp_path: Path, settings: Settings) -> None:
    path = tmp_path / "impact.db"
    engine = make_engine(f"sqlite:///{path}")
    server = create_app(settings, engine).server
    emails = add_organisation(engine, "org-a")
    client, visitor = server.test_client(), server.test_client()
    sign_in(client, emails["leadership"])
    engine.dispose()
    for leftover in tmp_path.glob("impact.db*"):
        leftover.unlink()
    path.mkdir()  # a directory where the database file was: SQLite cannot open it

    response = visitor.get("/healthz")
    assert response.status_code == 503
    assert response.get_json()["status"] == "unavailable"

    layout = client.get("/_dash-layout")  # the signed-in account cannot be loaded: unavailable, not an error
    assert layout.status_code == 503
    assert "cannot be used right now" in layout.get_json()["message"]
    page = client.get("/")
    assert page.status_code == 503
    assert "cannot be used right now" in page.get_data(as_text=True)
    engine.dispose()


def test_app_factory_makes_the_tables_of_a_fresh_database(tmp_path: Path, settings: Settings) -> None:
    engine = make_engine(f"sqlite:///{tmp_path / 'fresh.db'}")
    client = create_app(settings, engine).server.test_client()
    assert client.get("/healthz").status_code == 200
    sign_in(client, add_organisation(engine, "org-a")["leadership"])
    outputs = post_overview(client, "2025-01-01", "2025-01-31")
    assert outputs["influence-rate"] == "—"
    engine.dispose()


def test_pages_carry_a_content_security_policy_that_allows_only_dash_s_own_inline_script(
    client: FlaskClient, visitor: FlaskClient
) -> None:
    for response in (client.get("/"), visitor.get("/login")):
        policy = response.headers["Content-Security-Policy"]
        assert "frame-ancestors 'none'" in policy and "object-src 'none'" in policy
        scripts = policy.split("script-src ")[1].split(";")[0].split()
        assert scripts[0] == "'self'" and all(source.startswith("'sha256-") for source in scripts[1:])
        assert "unsafe-inline" not in policy.split("style-src")[0], "no inline script but Dash's own, by hash"


def test_a_temporary_password_keeps_the_dashboard_closed_until_replaced(
    server: Flask, accounts: dict[str, dict[str, str]], involvement: Engine
) -> None:
    from sqlmodel import select

    from impact.auth.accounts import StaffAccount

    email = accounts["org-a"]["leadership"]
    with Session(involvement) as session:
        account = session.exec(select(StaffAccount).where(StaffAccount.email == email)).one()
        account.must_change_password = True
        session.add(account)
        session.commit()
    client = server.test_client()
    sign_in(client, email)
    response = client.get("/")
    assert response.status_code == 403 and "choose your own password first" in response.get_data(as_text=True)
    assert (
        client.post("/_dash-update-component", json=callback_body(date(2026, 1, 1), date(2026, 2, 1))).status_code
        == 403
    )


def _contrast_with_white(colour: str) -> float:
    def linear(channel: int) -> float:
        value = channel / 255
        return value / 12.92 if value <= 0.03928 else ((value + 0.055) / 1.055) ** 2.4

    red, green, blue = (int(colour[index : index + 2], 16) for index in (1, 3, 5))
    luminance = 0.2126 * linear(red) + 0.7152 * linear(green) + 0.0722 * linear(blue)
    return 1.05 / (luminance + 0.05)


def test_every_chart_colour_stands_out_3_to_1_against_white() -> None:
    from dashboard import charts

    colours = {*charts.SERIES, *charts.STATUS_COLOURS.values(), *charts.LEVEL_COLOURS.values(), charts.TEXT}
    weak = {colour: round(_contrast_with_white(colour), 2) for colour in colours if _contrast_with_white(colour) < 3}
    assert weak == {}
    assert len(set(charts.LEVEL_COLOURS.values())) == 3 and len(set(charts.STATUS_COLOURS.values())) == 4
