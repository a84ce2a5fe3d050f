"""The frame around every page (header, navigation, filters) and the one callback that fills it in.

The URL is the state: `/areas?from=2025-01-01&to=2025-12-31&level=user_led` names the page and its
filters, so a view can be bookmarked or shared, and the browser's back button goes to the view before.
One callback serves everything: opening or going back to a URL sets the filter controls from it;
changing a control rewrites the URL; either way the page is built for the new filters. The
organisation always comes from the signed-in reader's session, never from the browser.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from dataclasses import dataclass
from datetime import date
from typing import Any

from dash import ClientsideFunction, Dash, Input, Output, ctx, dcc, html, no_update
from flask import Response, jsonify, request
from sqlalchemy import Engine
from sqlalchemy.exc import SQLAlchemyError
from sqlmodel import Session
from werkzeug.exceptions import BadRequest

from dashboard import access, render
from dashboard.filters import Filters, parse, parse_search
from dashboard.metrics import AREAS, LEVELS
from dashboard.pages import PageSpec, areas, feedback, influence, overview, people, quality, spec
from dashboard.tables import aria
from impact.auth.accounts import Organisation
from impact.auth.sessions import SignedIn, cross_links, signed_in_as
from schemas.vocab import label

logger = logging.getLogger(__name__)

PAGES: tuple[PageSpec, ...] = tuple(spec(module) for module in (overview, influence, areas, people, feedback, quality))
BY_PATH = {page.path: page for page in PAGES}
BY_SLUG = {page.slug: page for page in PAGES}
ALL = ""  # the value of "every area" and "every level" in the controls (a dropdown needs a value)
UNAVAILABLE = "The figures cannot be read right now. Please try again in a few minutes."

OUTPUTS = (
    Output("url", "search"),
    Output("period", "start_date"),
    Output("period", "end_date"),
    Output("area", "value"),
    Output("level", "value"),
    Output("nav", "children"),
    Output("heading", "children"),
    Output("content", "children"),
    Output("page-meta", "data"),
)
INPUTS = (
    Input("url", "pathname"),
    Input("url", "search"),
    Input("period", "start_date"),
    Input("period", "end_date"),
    Input("area", "value"),
    Input("level", "value"),
)
CONTROLS = frozenset({"period", "area", "level"})
NOT_THIS_CALLBACK = (
    "The dashboard's request did not list its outputs and changed inputs as the page sends them, so it was not read."
)
NOT_TEXT = "The dashboard's request gave its {name} as {kind}, not as text, so it was not read."
INPUT_NAMES = ("page address", "query string", "start date", "end date", "activity area", "level of involvement")


class UnreadableInput(BadRequest):
    """A callback input that no browser sends: not text (a number, a list, an object...). A 400, not a 500."""


@dataclass(frozen=True)
class Reader:
    """Who the page is for: the signed-in person, and what the sign-out form needs."""

    person: SignedIn
    sign_out_url: str
    csrf_token: str


def layout(engine: Engine, reader: Reader | None, today: date) -> html.Div:
    """The frame: filled in by the callback, which runs as soon as the page opens."""
    organisation = ""
    if reader is not None:
        organisation = reader.person.org_name  # read with the account on this request
    if reader is not None and not organisation:
        organisation = reader.person.org_id
        try:
            with Session(engine) as session:
                found = session.get(Organisation, reader.person.org_id)
                organisation = found.name if found else organisation
        except SQLAlchemyError:
            logger.warning("dashboard: the organisation's name is unavailable", exc_info=True)
    defaults = parse({}, today)
    return html.Div(
        [
            dcc.Location(id="url", refresh=False),
            dcc.Store(id="page-meta"),
            # says "figures updated" to screen readers when a filter changes what the page shows
            html.P(id="announcer", className="visually-hidden", role="status"),
            html.A("Skip to main content", href="#main", className="skip-link"),
            _header(reader, organisation),
            html.Nav(
                html.Ul(_nav_items(PAGES[0], defaults, "/"), id="nav"),
                className="pages",
                **aria(label="Dashboard pages"),
            ),
            html.Main(
                [
                    html.Div(html.H1("Loading the figures…", id="page-title", tabIndex="-1"), id="heading"),
                    _filters(defaults),
                    html.Div(id="content"),
                ],
                id="main",
                tabIndex="-1",
            ),
        ],
        className="page",
    )


def _header(reader: Reader | None, organisation: str) -> html.Header:
    parts: list[Any] = [html.P("Involvement Impact", className="service-name")]
    if reader is not None:
        sign_out = html.Form(
            # a submit button's name and value are sent with its form: the CSRF token, without a hidden input
            html.Button("Sign out", type="submit", name="csrf_token", value=reader.csrf_token, className="link-button"),
            method="post",
            action=reader.sign_out_url,
            className="sign-out",
        )
        signed_in = html.P(signed_in_as(reader.person.name, organisation), className="signed-in", id="signed-in")
        parts.append(html.Div([signed_in, *_staff_pages_link(reader.person), sign_out], className="account"))
    return html.Header(parts, className="site-header")


def _staff_pages_link(person: SignedIn) -> list[html.P]:
    """Back to the staff pages, already signed in there (one session for both services): the records, for a
    role that keeps them; choosing one's own password, for leadership (the only staff page theirs)."""
    links = cross_links(person)
    if "staff_pages" in links:
        return [html.P(html.A("Staff pages", href=links["staff_pages"], id="staff-pages"), className="signed-in")]
    if "password" in links:
        link = html.A("Change your password", href=links["password"], id="staff-pages")
        return [html.P(link, className="signed-in")]
    return []


def _nav_items(current: PageSpec | None, filters: Filters, prefix: str) -> list[html.Li]:
    """A link to each page keeping the current filters; the current page is marked for screen readers."""
    items = []
    for page in PAGES:
        here = page is current
        # dcc.Link takes no aria-current: the current page says so in words, hidden from sight
        text: list[Any] = [page.title, html.Span(" (this page)", className="visually-hidden")] if here else [page.title]
        link = dcc.Link(text, href=prefix.rstrip("/") + page.path + filters.search(), id=f"nav-{page.slug}")
        items.append(html.Li(link, className="current" if here else None))
    report = html.A("Annual report", href=f"{prefix}report{filters.search()}", id="nav-report")
    items.append(html.Li(report))
    return items


def _filters(defaults: Filters) -> html.Section:
    def choice(id_: str, text: str, everything: str, values: tuple[str, ...]) -> html.Div:
        options = [{"label": everything, "value": ALL}] + [{"label": label(value), "value": value} for value in values]
        return html.Div(
            [
                html.Label(text, htmlFor=id_, id=f"{id_}-label"),
                dcc.Dropdown(id=id_, options=options, value=ALL, clearable=False, searchable=False),
            ],
            className="filter",
        )

    return html.Section(
        [
            html.H2("Choose what to show", id="filters-heading"),
            html.Fieldset(
                [
                    html.Legend("Period (from and to dates, inclusive)"),
                    dcc.DatePickerRange(
                        id="period",
                        start_date=defaults.start.isoformat(),
                        end_date=defaults.end.isoformat(),
                        start_date_id="period-start",
                        end_date_id="period-end",
                        # the inputs take their accessible names from these, so they say what each date is
                        start_date_placeholder_text="From date",
                        end_date_placeholder_text="To date",
                        display_format="DD/MM/YYYY",
                        first_day_of_week=1,
                        updatemode="bothdates",  # one view for a new range, not one for its first date alone
                    ),
                ],
                className="filter",
            ),
            choice("area", "Activity area", "All areas", AREAS),
            choice("level", "Level of involvement", "All levels", LEVELS),
        ],
        className="filters",
        **aria(labelledby="filters-heading"),
    )


def page_for(pathname: str | None, prefix: str) -> PageSpec | None:
    path = "/" + (pathname or "/").removeprefix(prefix).strip("/")
    return BY_PATH.get(path)


def respond(
    engine: Engine,
    org_id: str,
    prefix: str,
    today: date,
    triggered: str | None,
    pathname: str | None,
    search: str | None,
    controls: tuple[str | None, str | None, str | None, str | None],
) -> tuple[Any, ...]:
    """The callback's nine outputs (see OUTPUTS) for a URL, or for a change of a filter control."""
    start_date, end_date, area, level = controls
    if triggered == "period" and not (start_date and end_date):
        return (no_update,) * len(OUTPUTS)  # half a range (a date cleared): wait for the other
    if triggered in CONTROLS:
        filters = parse(
            {"from": start_date or "", "to": end_date or "", "area": area or "", "level": level or ""}, today
        )
        sets_controls = bool(filters.problems)  # put a corrected value back into its control
    else:  # the page opened, or the URL changed (a link, the back button)
        filters = parse_search(search, today)
        sets_controls = True
    new_search = filters.search()
    outputs_search = no_update if new_search == (search or "") else new_search
    control_values: tuple[Any, ...] = (
        (filters.start.isoformat(), filters.end.isoformat(), filters.area or ALL, filters.level or ALL)
        if sets_controls
        else (no_update,) * 4
    )
    page = page_for(pathname, prefix)
    if page is None:
        top = render.heading("Page not found", "There is no dashboard page at this address.")
        content = [html.P("Choose a page from the list above.")]
        meta = {"title": "Page not found", "path": pathname}
        return (outputs_search, *control_values, _nav_items(None, filters, prefix), top, content, meta)
    try:
        with engine.connect() as conn:
            built = page.build(conn, filters, org_id)
        content = render.page(page, built, filters, prefix)
    except SQLAlchemyError:
        logger.warning("dashboard: page %s could not be built", page.slug, exc_info=True)
        content = [html.P(UNAVAILABLE, className="notice", role="alert")]
    meta = {"title": page.title, "path": page.path}
    top = render.heading(page.title, page.intro)
    return (outputs_search, *control_values, _nav_items(page, filters, prefix), top, content, meta)


def register_callbacks(app: Dash, engine: Engine, today: Callable[[], date] = date.today) -> None:
    prefix = app.config.requests_pathname_prefix

    @app.callback(*OUTPUTS, *INPUTS)
    def update(
        pathname: str | None,
        search: str | None,
        start_date: str | None,
        end_date: str | None,
        area: str | None,
        level: str | None,
    ) -> tuple[Any, ...]:
        org_id = access.reader().org_id  # from the session: the browser sends only the URL and the filters
        _check_text(pathname, search, start_date, end_date, area, level)
        triggered = ctx.triggered_id if isinstance(ctx.triggered_id, str) else None
        return respond(
            engine, org_id, prefix, today(), triggered, pathname, search, (start_date, end_date, area, level)
        )

    callback_endpoint = app.config.routes_pathname_prefix + "_dash-update-component"
    outputs = [{"id": str(o.component_id), "property": o.component_property} for o in OUTPUTS]

    @app.server.before_request
    def check_frame() -> None:
        """The parts of the callback's request that Dash reads unchecked: the outputs, and what changed.

        Runs after dashboard/access.py's guard, which has checked the callback and its inputs' names.
        """
        if request.endpoint != callback_endpoint:
            return
        body = request.get_json(silent=True)
        if not isinstance(body, dict) or body.get("outputs", outputs) != outputs:
            raise UnreadableInput(NOT_THIS_CALLBACK)
        changed = body.get("changedPropIds", [])
        if not isinstance(changed, list) or not all(isinstance(prop_id, str) for prop_id in changed):
            raise UnreadableInput(NOT_THIS_CALLBACK)

    @app.server.errorhandler(UnreadableInput)
    def unreadable(error: UnreadableInput) -> tuple[Response, int]:
        logger.info("dashboard: refused a callback: %s", error.description)
        return jsonify(status=400, message=error.description), 400

    # the tab's title names the page; moving to another page moves focus to its heading; a new view is
    # announced to screen readers (assets/pages.js)
    app.clientside_callback(
        ClientsideFunction(namespace="impact", function_name="pageChanged"),
        Output("announcer", "children"),
        Input("page-meta", "data"),
    )


def _check_text(*values: object) -> None:
    """Every input is text or empty, as the browser sends it; anything else is a forged request."""
    for name, value in zip(INPUT_NAMES, values, strict=True):
        if value is not None and not isinstance(value, str):
            kind = {bool: "true or false", int: "a number", float: "a number", list: "a list", dict: "an object"}
            raise UnreadableInput(NOT_TEXT.format(name=name, kind=kind.get(type(value), "something else")))


def callback_body(pathname: str, search: str = "", *, changed: str = "url.pathname") -> dict[str, Any]:
    """The callback's request as the browser sends it when it opens `pathname?search` (for tests and bench/).

    The controls carry what the layout starts with; the callback takes the filters from the URL.
    """
    inputs = [
        {"id": "url", "property": "pathname", "value": pathname},
        {"id": "url", "property": "search", "value": search},
        {"id": "period", "property": "start_date", "value": None},
        {"id": "period", "property": "end_date", "value": None},
        {"id": "area", "property": "value", "value": ALL},
        {"id": "level", "property": "value", "value": ALL},
    ]
    outputs = [{"id": str(o.component_id), "property": o.component_property} for o in OUTPUTS]
    return {
        "output": ".." + "...".join(f"{o['id']}.{o['property']}" for o in outputs) + "..",
        "outputs": outputs,
        "inputs": inputs,
        "changedPropIds": [changed],
        "parsedChangedPropsIds": [changed],
    }
