"""Data quality: the records accepted into the figures, those rejected and why, and how many were put right.

Figures are dashboard/metrics/__init__.py's `data_quality`: events accepted (by the day ingest recorded them) and
rejected by the quality gate (dead letters, by the expectation they failed), per month and overall.

Decisions where DOMAIN.md is silent:
- Area and level do not apply to events (a rejected record may not even have a valid area): the page
  always covers every event of the period, and says so when an area or level is chosen.
- These are counts of records, and no record's content (so no name or contact detail) is shown. But a
  record of a participant event (`participant.registered`, `participant.erased`, ...) is one person, so in
  "Records accepted, by kind" those rows are counts of people: 1 to 4 is hidden. The kinds add up to the
  records accepted, so when that hides exactly one row, the smallest other non-zero row is hidden too
  (as `people.protect` does), and every hidden row reads "not shown". The kinds are listed in a fixed
  order, not by count, so a hidden row's place gives nothing away. The monthly figures are not by kind.
- Each reason is the sentence staff see on the rejected record (schemas/quality.py), with its check's
  name for whoever fixes the source; "resolved" means a later event corrected or superseded it.
- A rejection rate is rejected ÷ (accepted + rejected) of the same period or month.

- "Rejected records by reason and month" has a row per month (and "All months") and a column per check
  that rejected any record in the period, most rejections first; the chart stacks those columns.

Three queries: metrics' two grouped ones, and one grouping the rejections by reason with their resolved count.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence

import plotly.graph_objects as go
from sqlalchemy import Connection, func, select

from dashboard import charts, metrics
from dashboard.filters import Filters
from dashboard.formatting import format_count, format_month, format_percent
from dashboard.metrics import DL, SMALL_COUNT, Scope, during
from dashboard.pages import Chart, Page, Section, Stat
from dashboard.pages.people import HIDDEN, cell
from dashboard.tables import Table
from schemas.quality import EXPECTATIONS, SCHEMA_REASON
from schemas.vocab import EventType, label

SLUG = "quality"
TITLE = "Data quality"
INTRO = (
    "Every record sent in is checked before it counts. This page shows how many were accepted, how many "
    "were turned away and why, so staff can put them right."
)
REASONS: dict[str, str] = {expectation.name: expectation.reason for expectation in EXPECTATIONS} | {
    "schema": SCHEMA_REASON
}
NOT_FILTERED = "Area and level do not apply to data quality: these figures cover every record of the period."
TYPE_ORDER: tuple[str, ...] = tuple(event.value for event in EventType)  # kinds of record, in the log's order
PEOPLE_TYPES = "participant."  # a record of a type starting so is one person
ALL_REASONS = "All reasons"


def reason(expectation: str) -> str:
    """The sentence staff see for a failed check; a check this version does not know is named as it is."""
    return REASONS.get(expectation, f"Failed the check “{expectation}”.")


def read_reasons(conn: Connection, scope: Scope) -> dict[str, tuple[int, int]]:
    """expectation -> (rejected, since resolved) in the period, most rejected first."""
    query = (
        select(DL.c.expectation, func.count(), func.count(DL.c.resolved_by))
        .where(DL.c.org_id == scope.org_id, during(DL.c.recorded_on, scope))
        .group_by(DL.c.expectation)
    )
    rows = sorted(conn.execute(query), key=lambda row: (-row[1], row[0]))
    return {expectation: (int(count), int(resolved)) for expectation, count, resolved in rows}


def build(conn: Connection, filters: Filters, org_id: str) -> Page:
    scope = filters.to_scope(org_id)
    quality = metrics.data_quality(conn, scope)
    reasons = read_reasons(conn, scope) if quality.rejected else {}
    months = months_table(quality.months)
    by_reason = reasons_by_month_table(quality)
    return Page(
        sections=[
            Section(
                title="Records accepted and rejected",
                key="quality-headline",
                intro="Counts of records sent in during the period (by the day they were received), not of people.",
                stats=quality_stats(quality),
                tables=[quality_table(quality_stats(quality))],
            ),
            Section(
                title="Month by month",
                key="quality-months",
                chart=Chart(months_figure(months), months_summary(quality.months), months.key),
                tables=[months],
            ),
            Section(
                title="Why records were rejected",
                key="rejections",
                intro="Each reason is what staff see on the rejected record; a record is resolved once a later one "
                "corrected or replaced it.",
                tables=[reasons_table(reasons)],
            ),
            Section(
                title="Rejections by reason, month by month",
                key="rejections-months",
                intro="Each column is a check; what it means is in the table above.",
                chart=Chart(reasons_figure(by_reason), reasons_summary(quality), by_reason.key),
                tables=[by_reason],
            ),
            Section(
                title="Records accepted, by kind",
                key="accepted",
                tables=[types_table(quality.accepted_by_type)],
            ),
        ],
        notices=[NOT_FILTERED] if filters.area or filters.level else [],
    )


def quality_stats(quality: metrics.DataQuality) -> list[Stat]:
    return [
        Stat("records-accepted", "Records accepted", format_count(quality.accepted), "Passed every check and counted."),
        Stat(
            "records-rejected",
            "Records rejected",
            format_count(quality.rejected),
            "Turned away by a check, and not counted until put right; the reasons are below.",
        ),
        Stat(
            "rejection-rate",
            "Rejection rate",
            format_percent(quality.rejection_rate),
            "Rejected records as a share of all records received.",
        ),
        Stat(
            "rejections-resolved",
            "Rejections resolved",
            format_count(quality.resolved),
            f"Of the {format_count(quality.rejected)} rejected, corrected or replaced by a later record.",
        ),
    ]


def quality_table(stats: Sequence[Stat]) -> Table:
    return Table(
        key="quality",
        caption="Records accepted and rejected",
        columns=("Figure", "This period", "What it counts"),
        rows=[[stat.label, stat.value, stat.note] for stat in stats],
        numeric=(1,),
    )


def _rate(rejected: int, accepted: int) -> str:
    return format_percent(rejected / (accepted + rejected) if accepted + rejected else None)


def months_table(months: Sequence[metrics.QualityMonth]) -> Table:
    return Table(
        key="quality-by-month",
        caption="Records accepted and rejected by month received",
        columns=("Month", "Accepted", "Rejected", "Rejection rate"),
        rows=[
            [format_month(m.month), format_count(m.accepted), format_count(m.rejected), _rate(m.rejected, m.accepted)]
            for m in months
        ],
        numeric=(1, 2, 3),
    )


def months_figure(table: Table) -> go.Figure:
    """Accepted and rejected stacked for each month."""
    months = [row[0] for row in table.rows]
    figure = go.Figure(
        layout={
            "barmode": "stack",
            "xaxis": {"type": "category"},
            "yaxis": {"rangemode": "tozero", "tickformat": ",d"},
        }
    )
    for name, index, colour in (("Accepted", 1, charts.BLUE), ("Rejected", 2, charts.VERMILLION)):
        figure.add_trace(
            go.Bar(
                x=months,
                y=[int(row[index].replace(",", "")) for row in table.rows],
                name=name,
                marker_color=colour,
                customdata=[row[index] for row in table.rows],
                hovertemplate="%{x}: %{customdata}<extra>" + name + "</extra>",
            )
        )
    return charts.styled(figure, height=380)


def months_summary(months: Sequence[metrics.QualityMonth]) -> str:
    if not months:
        return "No months to show."
    span = f"from {format_month(months[0].month)} to {format_month(months[-1].month)}"
    if not any(m.accepted or m.rejected for m in months):
        return f"No records were received {span}."
    worst = max(months, key=lambda m: m.rejected)
    if not worst.rejected:
        return f"Records accepted each month {span}; none was rejected."
    return (
        f"Records accepted and rejected each month {span}; the most were rejected in "
        f"{format_month(worst.month)} ({format_count(worst.rejected)})."
    )


def reasons_table(reasons: Mapping[str, tuple[int, int]]) -> Table:
    return Table(
        key="rejections",
        caption="Records rejected, by reason",
        columns=("Reason", "Check", "Rejected", "Resolved", "Still to put right"),
        rows=[
            [reason(name), name, format_count(count), format_count(resolved), format_count(count - resolved)]
            for name, (count, resolved) in reasons.items()
        ],
        numeric=(2, 3, 4),
    )


def reasons_by_month_table(quality: metrics.DataQuality) -> Table:
    """A row per month and an "All months" row; a column per check that rejected a record, then all of them."""
    names = list(quality.rejected_by_reason)  # most rejected first
    rows = [
        [
            format_month(month.month),
            *(format_count(month.rejected_by_reason.get(name, 0)) for name in names),
            format_count(month.rejected),
        ]
        for month in quality.months
    ]
    rows.append(
        [
            "All months",
            *(format_count(count) for count in quality.rejected_by_reason.values()),
            format_count(quality.rejected),
        ]
    )
    return Table(
        key="rejections-by-month",
        caption="Rejected records by reason and month received",
        columns=("Month", *names, ALL_REASONS),
        rows=rows,
        numeric=tuple(range(1, len(names) + 2)),
        note="Each column is the check that rejected the records; “Records rejected, by reason” says what it means.",
    )


def reasons_figure(table: Table) -> go.Figure:
    """Each reason's column stacked for each month (not the "All months" row, nor the total column)."""
    rows = table.rows[:-1]
    months = [row[0] for row in rows]
    figure = go.Figure(
        layout={
            "barmode": "stack",
            "xaxis": {"type": "category"},
            "yaxis": {"rangemode": "tozero", "tickformat": ",d", "title": {"text": "Records rejected"}},
        }
    )
    for index, name in enumerate(table.columns[1:-1], start=1):
        figure.add_trace(
            go.Bar(
                x=months,
                y=[int(row[index].replace(",", "")) for row in rows],
                name=name,
                marker_color=charts.SERIES[(index - 1) % len(charts.SERIES)],
                customdata=[row[index] for row in rows],
                hovertemplate="%{x}: %{customdata}<extra>" + name + "</extra>",
            )
        )
    return charts.styled(figure, height=380)


def reasons_summary(quality: metrics.DataQuality) -> str:
    months = quality.months
    if not months:
        return "No months to show."
    span = f"from {format_month(months[0].month)} to {format_month(months[-1].month)}"
    if not quality.rejected:
        return f"No records were rejected {span}."
    top, count = next(iter(quality.rejected_by_reason.items()))
    return (
        f"Records rejected each month {span}, by the check they failed; the most, "
        f"{format_count(count)} of {format_count(quality.rejected)}, failed “{top}”."
    )


def hidden_types(by_type: Mapping[str, int]) -> frozenset[str]:
    """The kinds to hide: participant kinds (counts of people) of 1 to 4, and, when that is exactly one, the
    smallest other non-zero kind (the first in order, on a tie), since the kinds add up to the records accepted."""
    hidden = {name for name, count in by_type.items() if name.startswith(PEOPLE_TYPES) and 0 < count < SMALL_COUNT}
    others = [name for name, count in by_type.items() if name not in hidden and count > 0]
    if len(hidden) == 1 and others:
        hidden.add(min(others, key=lambda name: by_type[name]))
    return frozenset(hidden)


def types_table(by_type: Mapping[str, int]) -> Table:
    """A row per kind accepted, in TYPE_ORDER (then any other alphabetically), participant kinds protected."""
    order = list(TYPE_ORDER)
    names = [name for name in order if name in by_type] + sorted(name for name in by_type if name not in order)
    ordered = {name: by_type[name] for name in names}
    hidden = hidden_types(ordered)
    return Table(
        key="accepted-by-type",
        caption="Records accepted, by kind of record",
        columns=("Kind of record", "Type", "Accepted"),
        rows=[[label(name), name, cell(count, name in hidden)] for name, count in ordered.items()],
        numeric=(2,),
        note=f"Each participant record is one person: 1 to 4 are {HIDDEN}, nor, when only one kind would be hidden, "
        "is the next smallest, so that no hidden count can be worked out from the records accepted.",
    )
