"""Overview: the headline figures of the period, each against the period of the same length before it, and
the month-by-month trend."""

from __future__ import annotations

import math
from typing import Any

from sqlalchemy import Connection

from dashboard import benchmarking, charts, metrics
from dashboard.filters import Filters
from dashboard.formatting import (
    NOT_APPLICABLE,
    SUPPRESSED,
    format_count,
    format_hours,
    format_month,
    format_people,
    format_percent,
)
from dashboard.metrics import suppress
from dashboard.pages import Chart, Page, Section, Stat, feedback, people
from dashboard.pages.people import HIDDEN
from dashboard.tables import Table

SLUG = "overview"
TITLE = "Overview"
INTRO = "How people with lived experience were involved, and what changed because of it."
PRIVACY = f"Counts of people from 1 to 4 show as “{SUPPRESSED}”, so that nobody can be identified."


def build(conn: Connection, filters: Filters, org_id: str) -> Page:
    scope = filters.to_scope(org_id)
    now = metrics.headline(conn, scope)
    before = metrics.headline(conn, filters.previous().to_scope(org_id))
    months = metrics.trend(conn, scope)
    sections = [
        Section(
            title="Headline figures",
            key="headline",
            intro="Each figure is compared with the period of the same length just before.",
            stats=headline_stats(now, before),
            tables=[headline_table(now, before)],
        ),
        Section(
            title="Month by month",
            key="trend",
            intro=PRIVACY,
            chart=Chart(trend_figure(months), trend_summary(months), "trend"),
            tables=[trend_table(months)],
        ),
    ]
    notices: list[str] = []
    comparison = benchmarking.compare(conn, scope)
    if isinstance(comparison, benchmarking.Comparison):
        sections.append(benchmarking.section(comparison))
    elif comparison is not None:
        notices.append(comparison)
    return Page(sections=sections, notices=notices)


def _count_change(now: int, before: int, *, people: bool = False) -> str:
    if people and (suppress(now) is None or suppress(before) is None):
        return "no comparison: too few people to show"
    shown = format_people(before) if people else format_count(before)
    if now == before:
        return f"no change from {shown}"
    direction = "up" if now > before else "down"
    return f"{direction} {format_count(abs(now - before))} from {shown}"


def _hours_change(now: float, before: float) -> str:
    if round(now, 1) == round(before, 1):
        return f"no change from {format_hours(before)}"
    direction = "up" if now > before else "down"
    return f"{direction} {format_hours(abs(now - before))} from {format_hours(before)}"


def _rate_change(now: float | None, before: float | None) -> str:
    if now is None or before is None:
        return f"previous period: {format_percent(before)}"
    points = round(now * 100) - round(before * 100)
    if points == 0:
        return f"no change from {format_percent(before)}"
    direction = "up" if points > 0 else "down"
    return f"{direction} {abs(points)} percentage points from {format_percent(before)}"


def _new(figures: metrics.Headline) -> str:
    """As the People page shows it: hidden where it would let a count of 1 to 4 be worked out."""
    return people.new_and_returning(
        figures.participants_involved, figures.new_participants, figures.returning_participants
    )[0]


def _new_change(now: metrics.Headline, before: metrics.Headline) -> str:
    if HIDDEN in (_new(now), _new(before)):
        return "no comparison: too few people to show"
    return _count_change(now.new_participants, before.new_participants, people=True)


def _closure_change(now: metrics.Headline, before: metrics.Headline) -> str:
    """Like `_rate_change`, but never beside a rate the Feedback loop page would hide (it reveals a small count)."""
    shown = feedback.closure_rate(before.feedback_sent, before.feedback_due)
    if HIDDEN in (shown, feedback.closure_rate(now.feedback_sent, now.feedback_due)):
        return "no comparison: too few people to show"
    return _rate_change(now.feedback_closure_rate, before.feedback_closure_rate)


def _days(value: float | None) -> str:
    if value is None:
        return NOT_APPLICABLE
    return f"{value:,.1f}".removesuffix(".0")


def _days_change(now: float | None, before: float | None) -> str:
    if now is None or before is None:
        return f"previous period: {_days(before)}"
    if now == before:
        return f"no change from {_days(before)}"
    direction = "up" if now > before else "down"
    return f"{direction} {_days(abs(now - before))} from {_days(before)}"


def headline_stats(now: metrics.Headline, before: metrics.Headline) -> list[Stat]:
    return [
        Stat(
            "participants-involved",
            "Participants involved",
            format_people(now.participants_involved),
            "People with at least one attendance or contribution.",
            _count_change(now.participants_involved, before.participants_involved, people=True),
        ),
        Stat(
            "new-participants",
            "New participants",
            _new(now),
            "Involved for the first time in this period.",
            _new_change(now, before),
        ),
        Stat(
            "involvement-hours",
            "Involvement hours",
            format_hours(now.involvement_hours),
            "Hours people spent in involvement activities.",
            _hours_change(now.involvement_hours, before.involvement_hours),
        ),
        Stat(
            "contributions",
            "Contributions",
            format_count(now.contributions),
            "Things people said: the “you said”.",
            _count_change(now.contributions, before.contributions),
        ),
        Stat(
            "changes-influenced",
            "Changes influenced",
            format_count(now.changes_influenced_total),
            "Changes with at least one linked contribution: the “we did”.",
            _count_change(now.changes_influenced_total, before.changes_influenced_total),
        ),
        Stat(
            "influence-rate",
            "Influence rate",
            format_percent(now.influence_rate),
            "Share of contributions linked to an agreed or implemented change.",
            _rate_change(now.influence_rate, before.influence_rate),
        ),
        Stat(
            "closure-rate",
            "Feedback closure rate",
            feedback.closure_rate(now.feedback_sent, now.feedback_due),
            "Share of people owed feedback on a decided change who were told (not shown when that would reveal "
            "fewer than 5 people).",
            _closure_change(now, before),
        ),
        Stat(
            "days-to-change",
            "Days to change",
            _days(now.days_to_change),
            "Median days from a contribution to the decision it informed.",
            _days_change(now.days_to_change, before.days_to_change),
        ),
        Stat(
            "area-coverage",
            "Areas with involvement",
            f"{now.area_coverage} of {len(metrics.AREAS)}",
            "Activity areas with an activity, attendance or contribution.",
            _count_change(now.area_coverage, before.area_coverage),
        ),
    ]


def headline_table(now: metrics.Headline, before: metrics.Headline) -> Table:
    rows = [[stat.label, stat.value, stat.change or ""] for stat in headline_stats(now, before)]
    return Table(
        key="headline",
        caption="Headline figures against the previous period",
        columns=("Figure", "This period", "Against the previous period"),
        rows=rows,
        numeric=(1,),
    )


def trend_table(months: list[metrics.TrendMonth]) -> Table:
    rows = [
        [
            format_month(month.month),
            format_count(month.contributions),
            format_people(month.participants_involved),
            format_hours(month.involvement_hours),
            format_count(month.changes_influenced),
        ]
        for month in months
    ]
    return Table(
        key="trend",
        caption="Monthly figures",
        columns=("Month", "Contributions", "Participants involved", "Involvement hours", "Changes influenced"),
        rows=rows,
        numeric=(1, 2, 3, 4),
    )


def trend_summary(months: list[metrics.TrendMonth]) -> str:
    if not months:
        return "No months to show."
    busiest = max(months, key=lambda month: month.contributions)
    total = sum(month.contributions for month in months)
    if total == 0:
        return (
            f"No contributions were recorded from {format_month(months[0].month)} to {format_month(months[-1].month)}."
        )
    return (
        f"Contributions, participants and hours for each month from {format_month(months[0].month)} to "
        f"{format_month(months[-1].month)}; the most contributions ({format_count(busiest.contributions)}) "
        f"were in {format_month(busiest.month)}."
    )


def trend_figure(months: list[metrics.TrendMonth]) -> dict[str, Any]:
    """Three small bar charts sharing the months, so counts and hours each keep a readable scale.

    A plain figure (dict): plotly's validation of make_subplots cost more than the queries of the page.
    """
    labels = [format_month(month.month) for month in months]
    series: tuple[tuple[str, list[Any], str, list[str]], ...] = (
        (
            "Contributions",
            [month.contributions for month in months],
            charts.BLUE,
            [format_count(month.contributions) for month in months],
        ),
        (
            "Participants involved",
            [suppress(month.participants_involved) for month in months],  # a small count is a gap
            charts.VERMILLION,
            [format_people(month.participants_involved) for month in months],
        ),
        (
            "Involvement hours",
            [month.involvement_hours for month in months],
            charts.GREEN,
            [format_hours(month.involvement_hours) for month in months],
        ),
    )
    data, layout = [], charts.layout(height=560, legend=False)
    domains = ((0.76, 1.0), (0.38, 0.62), (0.0, 0.24))  # top to bottom, 0.14 apart
    for row, ((name, values, colour, texts), domain) in enumerate(zip(series, domains, strict=True), start=1):
        suffix = "" if row == 1 else str(row)
        data.append(
            {
                "type": "bar",
                "x": labels,
                "y": values,
                "name": name,
                "marker": {"color": colour},
                "customdata": texts,
                "hovertemplate": "%{x}: %{customdata}<extra>" + name + "</extra>",
                "xaxis": f"x{suffix}",
                "yaxis": f"y{suffix}",
            }
        )
        y_axis: dict[str, Any] = {
            "domain": list(domain),
            "anchor": f"x{suffix}",
            "rangemode": "tozero",
            "tickformat": ",",
            "gridcolor": charts.GRID,
            "zerolinecolor": charts.GRID,
        }
        if row < len(series):  # counts are whole numbers: ticks a whole step apart (hours keep fractions)
            largest = max((value for value in values if value is not None), default=0)
            y_axis |= {"tickformat": ",d", "tick0": 0, "dtick": max(1, math.ceil(largest / 4))}
        layout[f"yaxis{suffix}"] = y_axis
        x_axis: dict[str, Any] = {"anchor": f"y{suffix}", "type": "category", "linecolor": charts.TEXT}
        if row < len(series):  # the months once, under the last chart, which the others follow
            x_axis |= {"matches": f"x{len(series)}", "showticklabels": False}
        layout[f"xaxis{suffix}"] = x_axis
        layout.setdefault("annotations", []).append(
            {
                "text": name,
                "showarrow": False,
                "xref": "paper",
                "yref": "paper",
                "x": 0.5,
                "y": domain[1],
                "xanchor": "center",
                "yanchor": "bottom",
                "font": {"size": 16},
            }
        )
    return {"data": data, "layout": layout}
