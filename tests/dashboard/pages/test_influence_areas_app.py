"""The Influence and Areas pages through the real Dash callback and the CSV export."""

from __future__ import annotations

import csv
import io
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from flask.testing import FlaskClient
from sqlalchemy import Engine

from dashboard import create_app, shell
from impact.settings import Environment, Settings
from tests.dashboard.pages.influence_world import (
    CH1,
    CH2,
    CH3,
    CH4,
    CH7,
    DASH,
    LEVEL_KEYS,
    Q1_MONTHS,
    STAT_KEYS,
    area_rows,
)
from tests.factories import add_organisation, sign_in

# --- Through the real app: the callback and the CSV export --------------------------------------------------


@pytest.fixture
def client(world: Engine, tmp_path: Path) -> Iterator[FlaskClient]:
    """Leadership of org-a, signed in to the real dashboard (org-b's rows share the database)."""
    settings = Settings(env=Environment.test, secret_key="t" * 40, data_dir=tmp_path / "var")
    server = create_app(settings, world).server
    emails = add_organisation(world, "org-a")
    client = server.test_client()
    sign_in(client, emails["leadership"])
    yield client


def by_id(component: Any, found: dict[str, Any] | None = None) -> dict[str, Any]:
    """Every component with an id in a serialised tree, by id, as its props (no id twice)."""
    found = {} if found is None else found
    if isinstance(component, list):
        for child in component:
            by_id(child, found)
    elif isinstance(component, dict) and "props" in component:
        props = component["props"]
        if "id" in props:
            assert props["id"] not in found, f"two components have the id {props['id']!r}"
            found[props["id"]] = props
        by_id(props.get("children"), found)
    return found


def text_of(component: Any) -> str:
    if isinstance(component, list):
        return " ".join(text_of(child) for child in component)
    if isinstance(component, dict):
        return text_of(component.get("props", {}).get("children"))
    return "" if component is None else str(component)


def table_body(table: dict[str, Any]) -> list[list[str]]:
    body = next(part for part in table["children"] if part["type"] == "Tbody")
    return [[text_of(cell) for cell in row["props"]["children"]] for row in body["props"]["children"]]


def callback(client: FlaskClient, path: str, search: str) -> dict[str, Any]:
    response = client.post("/_dash-update-component", json=shell.callback_body(path, search))
    assert response.status_code == 200, response.get_data(as_text=True)[:500]
    assert "ORG B SECRET" not in response.get_data(as_text=True)
    outputs = response.get_json()["response"]
    return by_id([outputs["heading"]["children"], outputs["content"]["children"]])


def export(client: FlaskClient, path: str) -> list[list[str]]:
    response = client.get(path)
    assert response.status_code == 200, response.get_data(as_text=True)[:500]
    assert response.mimetype == "text/csv"
    return list(csv.reader(io.StringIO(response.get_data(as_text=True).removeprefix("\ufeff"))))


def test_both_pages_through_the_callback_and_the_csv(client: FlaskClient) -> None:
    found = callback(client, "/influence", "?from=2025-01-01&to=2025-03-31")

    assert found["page-title"]["children"] == "Influence"
    assert [found[key]["children"] for key in STAT_KEYS] == ["4", "2", "1", "1", "1", "6", "6", "22"]
    assert table_body(found["changes-table"]) == [CH2, CH1, CH7, CH4, CH3]
    assert found["flows-chart"]["figure"]["data"][0]["type"] == "sankey"
    assert found["days-chart"]["figure"]["data"][0]["y"] == [1, 1, 2, 2, 1, 0]
    assert found["changes-csv"]["href"] == "/export/influence/changes.csv?from=2025-01-01&to=2025-03-31"

    lines = export(client, "/export/influence/changes.csv?from=2025-01-01&to=2025-03-31")
    assert lines[0] == [
        "Changes counted in this period, with the contributions behind them (1 Jan 2025 to 31 Mar 2025, "
        "all areas, all levels)"
    ]
    assert lines[1][0] == "Change" and lines[2:] == [CH2, CH1, CH7, CH4, CH3]
    flows = export(client, "/export/influence/flows.csv?from=2025-01-01&to=2025-03-31&level=co_production")
    assert flows[2:] == [["Research", "Moderate", "Implemented", "2"]]
    people = export(
        client, "/export/influence/influence-headline.csv?from=2025-01-01&to=2025-03-31&level=co_production"
    )
    assert people[8][:2] == ["People behind the decisions", "fewer than 5"]

    found = callback(client, "/areas", "?from=2025-01-01&to=2025-03-31&level=user_led")

    assert [found[key]["children"] for key in LEVEL_KEYS] == ["2", "0%", "0%", "100%"]
    body = table_body(found["area-months-table"])
    assert body[4] == ["Governance", "0", "1", "0", "1"] and body[12] == ["Research", "0", "0", "1", "1"]
    assert found["area-months-chart"]["figure"]["data"][0]["z"][12] == [0, 0, 1]

    lines = export(client, "/export/areas/area-months.csv?from=2025-01-01&to=2025-03-31&area=research")
    assert lines[1] == Q1_MONTHS
    assert lines[2:] == area_rows({"Research": ["2", "0", "1", "3"]}, [DASH] * 4)
