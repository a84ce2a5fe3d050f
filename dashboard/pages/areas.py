"""Areas: where involvement happened (activities held in each of the sixteen areas, month by month) and how
far people led it (the level mix, overall and per area).

An activity counts in the month and the area it was held in (`Activity.held_on`, `Activity.area`), and
at its level; the filters apply to activities as dashboard/metrics/__init__.py applies them. One grouped query
(area, level, year, month) gives every figure on the page. Counts of activities are not counts of
people, so nothing here is suppressed.

Decisions where DOMAIN.md is silent:
- All sixteen areas are always rows, in the vocabulary's order, so the page keeps its shape and an
  area with no involvement shows as 0 rather than disappearing. With an area filter, the fifteen other
  areas stay as rows but show "—" (not counted), never a misleading 0.
- The first and last months of the period count only its days (a period from 15 January counts half
  of January), as the Overview's months do.
- A share is of the activities of its row (or of the whole page, for the headline); "—" when there
  were none to share.
"""

from __future__ import annotations

import math
from collections import Counter
from collections.abc import Sequence
from datetime import date

import plotly.graph_objects as go
from sqlalchemy import Connection, extract, func

from dashboard import charts
from dashboard.filters import Filters
from dashboard.formatting import NOT_APPLICABLE, format_count, format_month, format_percent, months_between
from dashboard.metrics import AREAS, LEVELS, A, Scope, select_activities
from dashboard.pages import Chart, Page, Section, Stat
from dashboard.tables import Table
from schemas.vocab import label

SLUG = "areas"
TITLE = "Areas"
INTRO = (
    "Where involvement happened: the activities held in each of the sixteen activity areas, month by month, "
    "and how far people with lived experience led them."
)

LEVEL_NOTES = {
    "consultation": "asked for views",
    "co_production": "working in partnership",
    "user_led": "led by people with lived experience",
}

Counts = Counter[tuple[str, str, date]]  # (area, level, first day of the month) -> activities held


def read_counts(conn: Connection, scope: Scope) -> Counts:
    """Activities held in the scope, by area, level and calendar month: one grouped query."""
    year, month = extract("year", A.c.held_on), extract("month", A.c.held_on)
    query = select_activities(scope, A.c.area, A.c.level, year, month, func.count()).group_by(
        A.c.area, A.c.level, year, month
    )
    counts: Counts = Counter()
    for area, level, y, m, count in conn.execute(query):
        counts[area, level, date(int(y), int(m), 1)] += int(count)
    return counts


def build(conn: Connection, filters: Filters, org_id: str) -> Page:
    counts = read_counts(conn, filters.to_scope(org_id))
    months = months_between(filters.start, filters.end)
    shown = (filters.area,) if filters.area else AREAS
    by_month = month_table(counts, months, shown)
    by_level = level_table(counts, shown)
    filtered = (
        f" Only {label(filters.area)} is counted: the other areas show “{NOT_APPLICABLE}”." if filters.area else ""
    )
    return Page(
        sections=[
            Section(
                title="Activities by area and month",
                key="area-months",
                intro="The first and last months count only the days inside the period." + filtered,
                chart=Chart(heatmap_figure(by_month), heatmap_summary(counts, months), by_month.key),
                tables=[by_month],
            ),
            Section(
                title="Level of involvement",
                key="level-mix",
                intro="How far people led the activities: from being asked for their views to leading." + filtered,
                stats=level_stats(counts),
                chart=Chart(level_figure(by_level), level_summary(counts), by_level.key),
                tables=[by_level],
            ),
        ]
    )


def _number(cell: str) -> int | None:
    """A table's count cell back as a number (None for "—"), so a chart draws exactly its table."""
    return None if cell == NOT_APPLICABLE else int(cell.replace(",", ""))


# --- Activities by area and month ------------------------------------------------------------------


def month_table(counts: Counts, months: Sequence[date], shown: Sequence[str]) -> Table:
    """One row per area (all sixteen), one column per month, then the total."""
    per_month: Counter[tuple[str, date]] = Counter()
    for (area, _, month), count in counts.items():
        per_month[area, month] += count
    rows = []
    for area in AREAS:
        if area in shown:
            values = [per_month[area, month] for month in months]
            rows.append([label(area), *(format_count(value) for value in values), format_count(sum(values))])
        else:
            rows.append([label(area), *([NOT_APPLICABLE] * (len(months) + 1))])
    return Table(
        key="area-months",
        caption="Activities held, by area and month",
        columns=("Area", *(format_month(month) for month in months), "Total"),
        rows=rows,
        numeric=tuple(range(1, len(months) + 2)),
    )


def _step(values: list[list[int | None]]) -> int:
    largest = max((value for row in values for value in row if value is not None), default=0)
    return max(1, math.ceil(largest / 5))


def heatmap_figure(table: Table) -> go.Figure:
    """The area-by-month table as a heatmap: areas down, months across (the total column is left out)."""
    months = list(table.columns[1:-1])
    values = [[_number(cell) for cell in row[1:-1]] for row in table.rows]
    figure = go.Figure(
        go.Heatmap(
            z=values,
            x=months,
            y=[row[0] for row in table.rows],
            colorscale=charts.SEQUENTIAL,
            zmin=0,
            xgap=2,
            ygap=2,
            hoverongaps=False,
            # whole activities only: a tick every whole step, never "1, 1, 2, 2"
            colorbar={"title": {"text": "Activities"}, "tickformat": ",d", "tick0": 0, "dtick": _step(values)},
            hovertemplate="%{y}, %{x}: %{z:,} activities<extra></extra>",
            # the figures in the cells while they fit; the table always has them
            texttemplate="%{z:,}" if len(months) <= 12 else None,
        )
    )
    charts.styled(figure, height=40 + 30 * len(table.rows) + 96, legend=False)
    figure.update_yaxes(autorange="reversed", type="category", automargin=True, showgrid=False)
    figure.update_xaxes(type="category", side="top", showgrid=False)
    return figure


def heatmap_summary(counts: Counts, months: Sequence[date]) -> str:
    total = sum(counts.values())
    span = f"from {format_month(months[0])} to {format_month(months[-1])}" if months else "in this period"
    if not total:
        return f"No activities were held {span}."
    by_area: Counter[str] = Counter()
    by_month: Counter[date] = Counter()
    for (area, _, month), count in counts.items():
        by_area[area] += count
        by_month[month] += count
    top_area = max((area for area in AREAS if by_area[area]), key=lambda area: by_area[area])
    top_month = max(sorted(by_month), key=lambda month: by_month[month])
    return (
        f"{_activities_text(total)} in {len(by_area)} of {len(AREAS)} areas {span}; the most were in "
        f"{label(top_area)} ({format_count(by_area[top_area])}), and the busiest month was "
        f"{format_month(top_month)} ({format_count(by_month[top_month])})."
    )


def _activities_text(count: int) -> str:
    return f"{format_count(count)} {'activity' if count == 1 else 'activities'}"


# --- Level mix ---------------------------------------------------------------------------------------


def _levels(counts: Counts) -> Counter[str]:
    levels: Counter[str] = Counter()
    for (_, level, _), count in counts.items():
        levels[level] += count
    return levels


def _share(part: int, whole: int) -> str:
    return format_percent(part / whole if whole else None)


def level_stats(counts: Counts) -> list[Stat]:
    levels = _levels(counts)
    total = sum(levels.values())
    return [
        Stat("activities-held", "Activities held", format_count(total), "At every level of involvement."),
        *(
            Stat(
                f"level-{level}",
                label(level),
                _share(levels[level], total),
                f"{format_count(levels[level])} of {_activities_text(total)}: {LEVEL_NOTES.get(level, '')}.",
            )
            for level in LEVELS
        ),
    ]


def level_table(counts: Counts, shown: Sequence[str]) -> Table:
    """One row per area (all sixteen): activities at each level, each level's share of the row, the total."""
    per_area: Counter[tuple[str, str]] = Counter()
    for (area, level, _), count in counts.items():
        per_area[area, level] += count
    rows = []
    for area in AREAS:
        if area not in shown:
            rows.append([label(area), *([NOT_APPLICABLE] * (2 * len(LEVELS) + 1))])
            continue
        total = sum(per_area[area, level] for level in LEVELS)
        cells = [
            cell
            for level in LEVELS
            for cell in (format_count(per_area[area, level]), _share(per_area[area, level], total))
        ]
        rows.append([label(area), *cells, format_count(total)])
    names = [label(level) for level in LEVELS]
    return Table(
        key="level-by-area",
        caption="Activities by area and level of involvement",
        columns=("Area", *(column for name in names for column in (name, f"{name} share")), "Total"),
        rows=rows,
        numeric=tuple(range(1, 2 * len(LEVELS) + 2)),
        note="Each share is of the area's own activities.",
    )


def level_figure(table: Table) -> go.Figure:
    """The level-by-area table as stacked horizontal bars: one bar per area, one colour per level."""
    areas = [row[0] for row in table.rows]
    figure = go.Figure()
    for index, level in enumerate(LEVELS):
        column = 1 + 2 * index
        figure.add_trace(
            go.Bar(
                x=[_number(row[column]) for row in table.rows],
                y=areas,
                orientation="h",
                name=label(level),
                marker_color=charts.LEVEL_COLOURS.get(level, charts.GREY),
                customdata=[row[column + 1] for row in table.rows],
                hovertemplate="%{y}: %{x:,} activities (%{customdata})<extra>" + label(level) + "</extra>",
            )
        )
    charts.styled(figure, height=40 + 30 * len(areas) + 96)
    figure.update_layout(barmode="stack")
    figure.update_yaxes(autorange="reversed", type="category", automargin=True, showgrid=False)
    figure.update_xaxes(rangemode="tozero", tickformat=",d", title_text="Activities", gridcolor=charts.GRID)
    return figure


def level_summary(counts: Counts) -> str:
    levels = _levels(counts)
    total = sum(levels.values())
    if not total:
        return "No activities were held in this period, so there is no level mix to show."
    parts = [
        f"{format_count(levels[level])} ({_share(levels[level], total)}) {label(level).lower()}" for level in LEVELS
    ]
    return f"Of {_activities_text(total)}: {', '.join(parts[:-1])} and {parts[-1]}."
