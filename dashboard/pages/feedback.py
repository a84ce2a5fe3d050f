"""Feedback loop ("you made a difference"): were the people behind each decided change told what came of it?

Definitions are impact/metrics.py's "Feedback closure rate" and "Days to feedback": the unit is a
summary owed, one (participant, change) pair where the change was decided (agreed, implemented or
declined) in the period, the participant made a contribution linked to it, consents to contact now and
is not erased; it is sent when a `feedback.sent` for that change reached that participant (at any time,
so a summary sent after the period still closes the loop). The area filter applies to the change's own
area; the level filter to the linked contributions' activities. The closure rate and days to feedback
are the Overview's, from the same metric.

Decisions where DOMAIN.md is silent:
- Months are the months of the decision: a change decided in March owes its summaries to March, however
  late they are sent.
- "People still waiting" counts distinct people owed at least one summary not yet sent.
- The waiting list counts days since the decision up to today, not to the end of the period: the people
  on it are still waiting today. Its caption names the date, so a CSV says when it was true.
- Summaries owed, sent and not yet sent are counts of people (one per person per change), so they are
  protected as the People page protects a breakdown (`people.protect`): in the monthly table each month
  (owed = sent + not yet sent) and each column with its "All months" total; in the waiting list the
  column of people waiting. A hidden cell reads "not shown", and is a gap in the chart.
- A closure rate (the headline's or a month's) is shown only where its sent and not-yet-sent counts are
  both shown: a percentage of a shown total would otherwise give away a hidden count.

Four grouped queries: the pairs by day of decision, by change (those still waiting), the people still
waiting, and metrics' own query for the median days to feedback.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import date
from typing import Any

import plotly.graph_objects as go
from sqlalchemy import Connection, and_, func, select

from dashboard import charts
from dashboard.filters import Filters, long_date
from dashboard.formatting import NOT_APPLICABLE, format_count, format_month, format_people, format_percent
from dashboard.pages import Chart, Page, Section, Stat
from dashboard.pages.people import HIDDEN, PRIVACY, cell, complementary, protect
from dashboard.tables import Table
from impact import metrics
from impact.metrics import CH, CP, FB, C, P, Scope, _changes_where, _day, _linked_changes, _same
from impact.months import first_of_month
from schemas.vocab import label

SLUG = "feedback"
TITLE = "Feedback loop"
INTRO = (
    "When a change is decided, everyone whose contribution informed it, and who agreed to be contacted, "
    "is owed a summary of what came of it. This page shows how many were told, how quickly, and who is "
    "still waiting."
)
LIMIT = 25  # rows of the waiting list on screen (the CSV has them all)
OWED = "owed"
SENT = "sent"
WAITING = "waiting"
COLUMNS = (OWED, SENT, WAITING)
TOTAL = "all"  # the row of the monthly table that adds up every month
UNIT = (
    "A summary is owed to each person, for each change decided in the period that their contribution informed, "
    "if they agreed to be contacted."
)


@dataclass(frozen=True)
class Month:
    month: date
    owed: int = 0
    sent: int = 0

    @property
    def waiting(self) -> int:
        return self.owed - self.sent


@dataclass(frozen=True)
class Waiting:
    """A decided change with people still waiting to hear what came of it."""

    change_id: str
    title: str
    status: str
    decided_on: date
    people: int


# --- Reading -------------------------------------------------------------------------------------------


def _pairs(scope: Scope) -> Any:
    """Every summary owed in the scope (`pid`, `change_id`, `title`, `status`, `decided`) with its first `sent`.

    The pairs are impact/metrics.py's `_feedback` pairs: the same joins and conditions, with the change's
    title and status carried along.
    """
    owed = _changes_where(
        scope,
        select(
            CP.c.participant_id.label("pid"),
            CH.c.change_id.label("change_id"),
            CH.c.title.label("title"),
            CH.c.status.label("status"),
            CH.c.decided_on.label("decided"),
        )
        .distinct()
        .select_from(
            _linked_changes(scope).join(CP, _same(CP, C, "contribution_id")).join(P, _same(P, CP, "participant_id"))
        )
        .where(P.c.consent_to_contact.is_(True), P.c.erased.is_(False)),
        decided_only=True,
    ).subquery("owed")
    first = (
        select(FB.c.participant_id, FB.c.change_id, func.min(FB.c.sent_at).label("sent"))
        .where(FB.c.org_id == scope.org_id, FB.c.change_id.in_(select(owed.c.change_id)))
        .group_by(FB.c.participant_id, FB.c.change_id)
        .subquery("first_sent")
    )
    told = and_(first.c.participant_id == owed.c.pid, first.c.change_id == owed.c.change_id)
    return select(owed, first.c.sent.label("sent")).select_from(owed.outerjoin(first, told)).subquery("pairs")


def read_months(conn: Connection, scope: Scope, pairs: Any) -> list[Month]:
    """Summaries owed and sent by month of decision, every month of the period listed (grouped by day in SQL)."""
    owed: dict[date, int] = defaultdict(int)
    sent: dict[date, int] = defaultdict(int)
    query = select(pairs.c.decided, func.count(), func.count(pairs.c.sent)).group_by(pairs.c.decided)
    for decided, count, told in conn.execute(query):
        month = first_of_month(_day(decided))
        owed[month] += count
        sent[month] += told
    months = [first_of_month(part.start) for part in scope.months()]
    return [Month(month, owed[month], sent[month]) for month in months]


def read_waiting(conn: Connection, pairs: Any) -> list[Waiting]:
    """Decided changes with summaries not yet sent, oldest decision first."""
    query = (
        select(pairs.c.change_id, pairs.c.title, pairs.c.status, pairs.c.decided, func.count())
        .where(pairs.c.sent.is_(None))
        .group_by(pairs.c.change_id, pairs.c.title, pairs.c.status, pairs.c.decided)
        .order_by(pairs.c.decided, pairs.c.title, pairs.c.change_id)
    )
    return [
        Waiting(change_id, title, status, _day(decided), people)
        for change_id, title, status, decided, people in conn.execute(query)
    ]


def read_people_waiting(conn: Connection, pairs: Any) -> int:
    query = select(func.count(func.distinct(pairs.c.pid))).where(pairs.c.sent.is_(None))
    return int(conn.execute(query).scalar_one())


# --- The page ------------------------------------------------------------------------------------------


def build(conn: Connection, filters: Filters, org_id: str, *, today: date | None = None) -> Page:
    scope = filters.to_scope(org_id)
    pairs = _pairs(scope)
    months = read_months(conn, scope, pairs)
    waiting = read_waiting(conn, pairs)
    people = read_people_waiting(conn, pairs) if waiting else 0
    _, days = metrics._feedback(conn, scope)
    month_table = months_table(months)
    figures = closure_stats(months, days, people)
    return Page(
        sections=[
            Section(
                title="Closing the loop",
                key="closure",
                intro=UNIT,
                stats=figures,
                tables=[closure_table(figures)],
            ),
            Section(
                title="Month by month",
                key="closure-months",
                intro="By the month the change was decided. " + PRIVACY,
                chart=Chart(months_figure(month_table), months_summary(months), month_table.key),
                tables=[month_table],
            ),
            Section(
                title="Still waiting to hear",
                key="waiting-list",
                intro="Decided changes whose people have not all been sent a summary, the oldest decision first.",
                tables=[waiting_table(waiting, today or date.today())],
                limit=LIMIT,
            ),
        ]
    )


def _days(value: float | None) -> str:
    if value is None:
        return NOT_APPLICABLE
    return f"{value:,.1f}".removesuffix(".0")


def closure_rate(sent: int, owed: int) -> str:
    """The share of summaries sent, or HIDDEN where it would give away a count of 1 to 4 (sent or not yet sent)."""
    if complementary([sent, owed - sent]):
        return HIDDEN
    return format_percent(sent / owed if owed else None)


def closure_stats(months: Sequence[Month], days: Sequence[int], people: int) -> list[Stat]:
    owed = sum(month.owed for month in months)
    sent = sum(month.sent for month in months)
    median = metrics._median(days)
    return [
        Stat(
            "closure-rate",
            "Feedback closure rate",
            closure_rate(sent, owed),
            "Share of the summaries owed that were sent (not shown when that would reveal fewer than 5 people).",
        ),
        Stat(
            "days-to-feedback",
            "Median days to feedback",
            _days(median),
            "From the decision to the first summary sent, for the summaries sent.",
        ),
        Stat(
            "people-waiting",
            "People still waiting",
            format_people(people),
            "People owed at least one summary that has not been sent.",
        ),
    ]


def closure_table(stats: Sequence[Stat]) -> Table:
    return Table(
        key="closure",
        caption="Feedback on decided changes",
        columns=("Figure", "This period", "What it counts"),
        rows=[[stat.label, stat.value, stat.note] for stat in stats],
        numeric=(1,),
    )


def months_table(months: Sequence[Month]) -> Table:
    """One row per month and an "All months" row; owed, sent and not yet sent protected as one grid."""
    rows: list[tuple[str, Month]] = [(format_month(month.month), month) for month in months]
    total = Month(date.min, sum(m.owed for m in months), sum(m.sent for m in months))
    keys = [*range(len(rows)), TOTAL]
    every = [*(month for _, month in rows), total]
    counts = {
        (key, column): getattr(month, column) for key, month in zip(keys, every, strict=True) for column in COLUMNS
    }
    breakdowns = [[(key, column) for column in COLUMNS] for key in keys]  # owed = sent + not yet sent
    breakdowns += [[(key, column) for key in keys] for column in COLUMNS]  # the months add up to "All months"
    hidden = protect(counts, breakdowns)
    body = []
    for key, (name, month) in zip(keys, [*rows, ("All months", total)], strict=True):
        cells = [cell(counts[key, column], (key, column) in hidden) for column in COLUMNS]
        rate = (
            HIDDEN
            if {(key, SENT), (key, WAITING)} & hidden
            else format_percent(month.sent / month.owed if month.owed else None)
        )
        body.append([name, *cells, rate])
    return Table(
        key="closure-by-month",
        caption="Summaries owed and sent, by month of decision",
        columns=("Month of decision", "Summaries owed", "Sent", "Not yet sent", "Closure rate"),
        rows=body,
        numeric=(1, 2, 3, 4),
        note=UNIT,
    )


def _number(text: str) -> int | None:
    return None if text == HIDDEN else int(text.replace(",", ""))


def months_figure(table: Table) -> go.Figure:
    """Owed and sent side by side for each month (not the "All months" row); a hidden count is a gap."""
    rows = table.rows[:-1]
    months = [row[0] for row in rows]
    figure = go.Figure(
        layout={
            "barmode": "group",
            "xaxis": {"type": "category"},
            "yaxis": {"rangemode": "tozero", "tickformat": ",d"},
        }
    )
    for name, index, colour in (("Summaries owed", 1, charts.BLUE), ("Sent", 2, charts.GREEN)):
        figure.add_trace(
            go.Bar(
                x=months,
                y=[_number(row[index]) for row in rows],
                name=name,
                marker_color=colour,
                customdata=[row[index] for row in rows],
                hovertemplate="%{x}: %{customdata}<extra>" + name + "</extra>",
            )
        )
    return charts.styled(figure, height=380)


def months_summary(months: Sequence[Month]) -> str:
    if not months:
        return "No months to show."
    span = f"from {format_month(months[0].month)} to {format_month(months[-1].month)}"
    if not any(month.owed for month in months):
        return f"No summaries were owed for changes decided {span}."
    return f"Summaries owed and sent for the changes decided in each month {span}; gaps are counts not shown."


def waiting_table(waiting: Sequence[Waiting], today: date) -> Table:
    hidden = complementary([change.people for change in waiting])
    rows = [
        [
            change.title,
            label(change.status),
            long_date(change.decided_on),
            format_count((today - change.decided_on).days),
            cell(change.people, index in hidden),
        ]
        for index, change in enumerate(waiting)
    ]
    return Table(
        key="waiting",
        caption=f"Decided changes with people still waiting to hear, oldest first (as of {long_date(today)})",
        columns=("Change", "Status", "Decided on", "Days since decision", "People waiting"),
        rows=rows,
        numeric=(3, 4),
        note=f"Days since decision are counted to today, {long_date(today)}. " + PRIVACY,
    )
