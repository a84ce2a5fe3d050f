"""The dashboard end to end: the overview callback, the filters in the URL, CSV exports, and every request
scoped to the signed-in reader's organisation."""

from __future__ import annotations

from collections.abc import Callable
from datetime import date
from typing import Any

import pytest
from dash import no_update
from flask.testing import FlaskClient
from sqlalchemy import Engine, text

from dashboard import shell
from dashboard.filters import parse
from tests.dashboard.app.helpers import (
    FEBRUARY,
    FEBRUARY_FIGURES,
    HEADLINE_IDS,
    ORG_B_ONLY,
    by_id,
    callback_body,
    component_text,
    headline,
    post_overview,
    post_page,
    table_rows,
)


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
