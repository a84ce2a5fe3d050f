"""Data quality: the records accepted into the figures, those rejected and why, and how many were put right.

Figures are impact/metrics.py's `data_quality`: events accepted (by the day ingest recorded them) and
rejected by the quality gate (dead letters, by the expectation they failed), per month and overall.

Decisions where DOMAIN.md is silent:
- Area and level do not apply to events (a rejected record may not even have a valid area): the page
  always covers every event of the period, and says so when an area or level is chosen.
- These are counts of records, not of people, so they are not suppressed; no record's content, and so
  no name or contact detail, is shown.
- Each reason is the sentence staff see on the rejected record (schemas/quality.py), with its check's
  name for whoever fixes the source; "resolved" means a later event corrected or superseded it.
- A rejection rate is rejected ÷ (accepted + rejected) of the same period or month.

Three queries: metrics' two grouped ones, and one grouping the rejections by reason with their resolved count.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence

import plotly.graph_objects as go
from sqlalchemy import Connection, func, select

from dashboard import charts
from dashboard.filters import Filters
from dashboard.formatting import format_count, format_month, format_percent
from dashboard.pages import Chart, Page, Section, Stat
from dashboard.tables import Table
from impact import metrics
from impact.metrics import DL, Scope, _during
from schemas.quality import EXPECTATIONS, SCHEMA_REASON

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
TYPE_NAMES: dict[str, str] = {
    "participant.registered": "Participant registered",
    "participant.consent_changed": "Consent changed",
    "participant.erased": "Participant erased",
    "activity.held": "Activity held",
    "session.attended": "Session attended",
    "contribution.made": "Contribution made",
    "change.recorded": "Change recorded",
    "change.status_changed": "Change status changed",
    "feedback.sent": "Feedback sent",
}


def reason(expectation: str) -> str:
    """The sentence staff see for a failed check; a check this version does not know is named as it is."""
    return REASONS.get(expectation, f"Failed the check “{expectation}”.")


def read_reasons(conn: Connection, scope: Scope) -> dict[str, tuple[int, int]]:
    """expectation -> (rejected, since resolved) in the period, most rejected first."""
    query = (
        select(DL.c.expectation, func.count(), func.count(DL.c.resolved_by))
        .where(DL.c.org_id == scope.org_id, _during(DL.c.recorded_on, scope))
        .group_by(DL.c.expectation)
    )
    rows = sorted(conn.execute(query), key=lambda row: (-row[1], row[0]))
    return {expectation: (int(count), int(resolved)) for expectation, count, resolved in rows}


def build(conn: Connection, filters: Filters, org_id: str) -> Page:
    scope = filters.to_scope(org_id)
    quality = metrics.data_quality(conn, scope)
    reasons = read_reasons(conn, scope) if quality.rejected else {}
    months = months_table(quality.months)
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


def types_table(by_type: Mapping[str, int]) -> Table:
    rows = sorted(by_type.items(), key=lambda item: (-item[1], item[0]))
    return Table(
        key="accepted-by-type",
        caption="Records accepted, by kind of record",
        columns=("Kind of record", "Type", "Accepted"),
        rows=[[TYPE_NAMES.get(type_, type_), type_, format_count(count)] for type_, count in rows],
        numeric=(2,),
    )
