"""The overview page: headline figures and the monthly trend of the reader's organisation over a chosen period."""

from __future__ import annotations

import logging
import math
from collections.abc import Callable
from dataclasses import dataclass
from datetime import date
from typing import Any

import plotly.graph_objects as go
from dash import Dash, Input, Output, dcc, html
from dash.exceptions import PreventUpdate
from plotly.subplots import make_subplots
from sqlalchemy import Engine
from sqlalchemy.exc import SQLAlchemyError
from sqlmodel import Session

from dashboard import access
from dashboard.formatting import (
    SUPPRESSED,
    default_period,
    format_count,
    format_hours,
    format_month,
    format_people,
    format_percent,
    suppress,
)
from dashboard.queries import Headline, MonthlyFigures, headline_figures, monthly_trend, organisation_name
from impact.web import SignedIn

logger = logging.getLogger(__name__)

# Okabe-Ito colours: distinguishable with the common colour-vision deficiencies, each >= 3:1 on white
CONTRIBUTIONS_COLOUR = "#0072B2"
PARTICIPANTS_COLOUR = "#D55E00"
HOURS_COLOUR = "#009E73"
TEXT_COLOUR = "#0b0c0c"

FIGURES = (
    ("participants-involved", "Participants involved", "People with at least one attendance or contribution."),
    ("involvement-hours", "Involvement hours", "Hours people spent in involvement activities."),
    ("contributions", "Contributions", "Things people said: the 'you said'."),
    ("changes-influenced", "Changes influenced", "Changes with at least one linked contribution: the 'we did'."),
    ("influence-rate", "Influence rate", "Share of contributions linked to an agreed or implemented change."),
)
OUTPUTS = (
    *(Output(figure_id, "children") for figure_id, _, _ in FIGURES),
    Output("trend-chart", "figure"),
    Output("trend-table", "children"),
)
INPUTS = (Input("period", "start_date"), Input("period", "end_date"))  # never the organisation: see below
UNAVAILABLE = "The figures cannot be read right now. Please try again in a few minutes."
PRIVACY_NOTE = f"Months with {SUPPRESSED} participants are left blank to protect privacy."


@dataclass(frozen=True)
class Reader:
    """Who the page is for: the signed-in person, and what the sign-out form needs."""

    person: SignedIn
    sign_out_url: str
    csrf_token: str


def layout(engine: Engine, reader: Reader | None = None, today: Callable[[], date] = date.today) -> html.Div:
    """The page, built on each visit for the signed-in reader: their organisation and a current period.

    Only the guard in dashboard/access.py lets this page be served, and only to a reader; without one (when
    Dash checks the layout at start-up) it has the same components but names nobody.
    """
    notices = []
    organisation = ""
    if reader is not None:
        organisation = reader.person.org_id
        try:
            with Session(engine) as session:
                organisation = organisation_name(session=session, org_id=reader.person.org_id) or organisation
        except SQLAlchemyError:
            logger.warning("overview: the organisation's name is unavailable", exc_info=True)
            notices.append(html.P(UNAVAILABLE, className="notice", role="alert"))
    start, end = default_period(today())
    return html.Div(
        [
            html.A("Skip to main content", href="#main", className="skip-link"),
            _header(reader, organisation),
            html.Main(
                [
                    html.H1("Involvement overview"),
                    *notices,
                    html.P(
                        "How people with lived experience were involved, and what changed because of it.",
                        className="lead",
                    ),
                    _filters(start, end),
                    _figures(),
                    _trend(),
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
        signed_in = html.P(f"Signed in as {reader.person.name} · {organisation}", className="signed-in", id="signed-in")
        parts.append(html.Div([signed_in, sign_out], className="account"))
    return html.Header(parts, className="site-header")


def _filters(start: date, end: date) -> html.Section:
    return html.Section(
        [
            html.H2("Choose what to show", id="filters-heading"),
            html.Fieldset(
                [
                    html.Legend("Period (from and to dates, inclusive)"),
                    dcc.DatePickerRange(
                        id="period",
                        start_date=start.isoformat(),
                        end_date=end.isoformat(),
                        start_date_id="period-start",
                        end_date_id="period-end",
                        # the inputs take their accessible names from these, so they say what each date is
                        start_date_placeholder_text="From date",
                        end_date_placeholder_text="To date",
                        display_format="DD/MM/YYYY",
                        first_day_of_week=1,
                    ),
                ],
                className="filter",
            ),
        ],
        className="filters",
        **_aria(labelledby="filters-heading"),
    )


def _figures() -> html.Section:
    cards = [
        html.Div(
            [html.Dt(name), html.Dd("…", id=figure_id, className="figure-value"), html.Dd(note, className="note")],
            className="figure",
        )
        for figure_id, name, note in FIGURES
    ]
    return html.Section(
        [
            html.H2("Headline figures", id="figures-heading"),
            html.Dl(cards, className="figures", **_aria(live="polite")),
        ],
        **_aria(labelledby="figures-heading"),
    )


def _trend() -> html.Section:
    return html.Section(
        [
            html.H2("Month by month", id="trend-heading"),
            html.P(PRIVACY_NOTE, className="note"),
            html.Div(
                [
                    html.Figure(
                        [
                            dcc.Graph(id="trend-chart", config={"displayModeBar": False}),
                            html.Figcaption("The table gives the same monthly numbers as text."),
                        ],
                        className="trend-chart",
                    ),
                    html.Div(
                        html.Table(html.Caption("Monthly figures", id="trend-caption"), id="trend-table"),
                        className="trend-table",
                        tabIndex="0",  # lets keyboard users scroll the table when it is wider than the screen
                        role="region",
                        **_aria(labelledby="trend-caption"),
                    ),
                ],
                className="trend",
            ),
        ],
        **_aria(labelledby="trend-heading"),
    )


def _aria(**attributes: str) -> dict[str, Any]:
    """ARIA attributes as keyword arguments for Dash components, which accept them only by their hyphenated names."""
    return {f"aria-{name}": value for name, value in attributes.items()}


def parse_period(start_date: str | None, end_date: str | None) -> tuple[date, date] | None:
    """The period the date picker sent, earliest first, or None when a date is missing or malformed."""
    if not start_date or not end_date:
        return None
    try:
        start, end = date.fromisoformat(start_date[:10]), date.fromisoformat(end_date[:10])
    except ValueError:
        return None
    return (start, end) if start <= end else (end, start)


def trend_figure(trend: list[MonthlyFigures]) -> go.Figure:
    """Three small bar charts sharing the months, so counts and hours each keep a readable scale."""
    months = [format_month(figures.month) for figures in trend]
    people = [suppress(figures.participants_involved) for figures in trend]
    figure = make_subplots(
        rows=3,
        cols=1,
        shared_xaxes=True,
        vertical_spacing=0.12,
        subplot_titles=("Contributions", "Participants involved", "Involvement hours"),
    )
    series: tuple[tuple[str, list[Any], str, list[str]], ...] = (
        (
            "Contributions",
            [figures.contributions for figures in trend],
            CONTRIBUTIONS_COLOUR,
            [format_count(figures.contributions) for figures in trend],
        ),
        (
            "Participants involved",
            people,
            PARTICIPANTS_COLOUR,
            [format_people(figures.participants_involved) for figures in trend],
        ),
        (
            "Involvement hours",
            [figures.involvement_hours for figures in trend],
            HOURS_COLOUR,
            [format_hours(figures.involvement_hours) for figures in trend],
        ),
    )
    for row, (name, values, colour, labels) in enumerate(series, start=1):
        figure.add_trace(
            go.Bar(
                x=months,
                y=values,
                name=name,
                marker_color=colour,
                customdata=labels,
                hovertemplate="%{x}: %{customdata}<extra>" + name + "</extra>",
            ),
            row=row,
            col=1,
        )
    figure.update_layout(
        showlegend=False,
        height=560,
        margin={"l": 56, "r": 16, "t": 40, "b": 40},
        font={"color": TEXT_COLOUR, "size": 14},
        paper_bgcolor="#ffffff",
        plot_bgcolor="#ffffff",
    )
    figure.update_yaxes(rangemode="tozero", gridcolor="#b1b4b6", tickformat=",")
    # Counts are whole numbers: ticks one, or a whole step, apart (hours, the last row, keep fractions).
    for row, (_, values, _, _) in enumerate(series[:-1], start=1):
        largest = max((value for value in values if value is not None), default=0)
        figure.update_yaxes(tickformat=",d", tick0=0, dtick=max(1, math.ceil(largest / 4)), row=row, col=1)
    figure.update_xaxes(type="category", linecolor=TEXT_COLOUR)
    return figure


def trend_table(trend: list[MonthlyFigures]) -> list[html.Caption | html.Thead | html.Tbody]:
    """The chart's numbers as a table, its text alternative, with people counts suppressed the same way."""
    columns = ("Month", "Contributions", "Participants involved", "Involvement hours")
    rows = [
        html.Tr(
            [
                html.Th(format_month(figures.month), scope="row"),
                html.Td(format_count(figures.contributions), className="numeric"),
                html.Td(format_people(figures.participants_involved), className="numeric"),
                html.Td(format_hours(figures.involvement_hours), className="numeric"),
            ]
        )
        for figures in trend
    ]
    period = f"{format_month(trend[0].month)} to {format_month(trend[-1].month)}" if trend else "no months"
    return [
        html.Caption(f"Monthly figures, {period}", id="trend-caption"),
        html.Thead(html.Tr([html.Th(column, scope="col") for column in columns])),
        html.Tbody(rows),
    ]


def overview_outputs(headline: Headline, trend: list[MonthlyFigures]) -> tuple[Any, ...]:
    """The callback's seven outputs, in the order of OUTPUTS, from the figures of one period."""
    return (
        format_people(headline.participants_involved),
        format_hours(headline.involvement_hours),
        format_count(headline.contributions),
        format_count(headline.changes_influenced),
        format_percent(headline.influence_rate),
        trend_figure(trend),
        trend_table(trend),
    )


def register_callbacks(app: Dash, engine: Engine) -> None:
    """Connect the period to the figures: one callback, one read-model session per request."""

    @app.callback(*OUTPUTS, *INPUTS)
    def update_overview(start_date: str | None, end_date: str | None) -> tuple[Any, ...]:
        # The organisation is the signed-in reader's, from the session: the browser sends only the period,
        # so no request can ask for another organisation's figures.
        org_id = access.reader().org_id
        period = parse_period(start_date, end_date)
        if period is None:
            raise PreventUpdate
        start, end = period
        with Session(engine) as session:
            headline = headline_figures(session=session, org_id=org_id, start=start, end=end)
            trend = monthly_trend(session=session, org_id=org_id, start=start, end=end)
        return overview_outputs(headline, trend)
