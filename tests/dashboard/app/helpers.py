"""Helpers for driving the dashboard app as the browser does: its callback, its layout, its sign-out form.

Other suites (tests/system, tests/impact) use `callback_body`, `post_overview` and `sign_out_token`."""

from __future__ import annotations

from datetime import date
from typing import Any

from flask.testing import FlaskClient

from dashboard import shell

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
