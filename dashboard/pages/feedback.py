"""Feedback loop ("you made a difference"): were the people behind each decided change told what came of it?

Definitions are dashboard/metrics/__init__.py's "Feedback closure rate" and "Days to feedback": the unit is a
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
- Summaries owed, sent and not yet sent are counts of people (one per person per change). The monthly
  table and the waiting list are protected as ONE system (`people.protect`), since they add up to each
  other: each month's row (owed = sent + not yet sent), each column with its "All months" total, and each
  month's not yet sent with the waiting list's changes decided in that month (and all of them with the
  "All months" not yet sent). Protected apart, the two tables would hide different cells, and one could
  give away what the other hid. A hidden cell reads "not shown", and is a gap in the chart.
- Both tables come from one query of the summaries owed by change, so they count the same pairs by the
  same month of decision.
- "People still waiting" counts distinct people, not a sum of the cells above, so it is shown on its own
  ("fewer than 5" when 1 to 4).
- A closure rate (the headline's or a month's) is shown only where its sent and not-yet-sent counts are
  both shown: a percentage of a shown total would otherwise give away a hidden count.

Three grouped queries: the summaries owed and sent by change, the people still waiting, and metrics' own
query for the median days to feedback.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import date
from typing import Any

import plotly.graph_objects as go
from sqlalchemy import Connection, func, select

from dashboard import charts, metrics
from dashboard.filters import Filters, long_date
from dashboard.formatting import (
    NOT_APPLICABLE,
    format_count,
    format_month,
    format_people,
    format_percent,
)
from dashboard.metrics import CH, SMALL_COUNT, Scope, as_date, feedback_pairs
from dashboard.pages import Chart, Page, Section, Stat
from dashboard.pages.people import HIDDEN, PRIVACY, cell, complementary, protect
from dashboard.tables import Table
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
CHANGE = "change"  # a cell of the waiting list is (change_id, CHANGE)
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
class Decided:
    """A change decided in the period: the summaries owed for it, and how many were sent."""

    change_id: str
    title: str
    status: str
    decided_on: date
    owed: int
    sent: int

    @property
    def waiting(self) -> int:
        return self.owed - self.sent


Cell = tuple[date | str, str]  # (month or TOTAL, column) in the monthly table; (change_id, CHANGE) in the list


# --- Reading -------------------------------------------------------------------------------------------


def _pairs(scope: Scope) -> Any:
    """Every summary owed in the scope, with the change's title and status: dashboard/metrics/__init__.py's pairs."""
    return feedback_pairs(scope, CH.c.title.label("title"), CH.c.status.label("status"))


def read_decided(conn: Connection, pairs: Any) -> list[Decided]:
    """Summaries owed and sent for each change decided in the period, oldest decision first."""
    query = (
        select(
            pairs.c.change_id, pairs.c.title, pairs.c.status, pairs.c.decided, func.count(), func.count(pairs.c.sent)
        )
        .group_by(pairs.c.change_id, pairs.c.title, pairs.c.status, pairs.c.decided)
        .order_by(pairs.c.decided, pairs.c.title, pairs.c.change_id)
    )
    return [
        Decided(change_id, title, status, as_date(decided), owed, sent)
        for change_id, title, status, decided, owed, sent in conn.execute(query)
    ]


def by_month(scope: Scope, decided: Sequence[Decided]) -> list[Month]:
    """Summaries owed and sent by month of decision, every month of the period listed."""
    owed: dict[date, int] = defaultdict(int)
    sent: dict[date, int] = defaultdict(int)
    for change in decided:
        month = first_of_month(change.decided_on)
        owed[month] += change.owed
        sent[month] += change.sent
    months = [first_of_month(part.start) for part in scope.months()]
    return [Month(month, owed[month], sent[month]) for month in months]


def read_people_waiting(conn: Connection, pairs: Any) -> int:
    query = select(func.count(func.distinct(pairs.c.pid))).where(pairs.c.sent.is_(None))
    return int(conn.execute(query).scalar_one())


# --- The page ------------------------------------------------------------------------------------------


def build(conn: Connection, filters: Filters, org_id: str, *, today: date | None = None) -> Page:
    scope = filters.to_scope(org_id)
    pairs = _pairs(scope)
    decided = read_decided(conn, pairs)
    months = by_month(scope, decided)
    waiting = [change for change in decided if change.waiting]
    people = read_people_waiting(conn, pairs) if waiting else 0
    _, days = metrics.feedback_days(conn, scope)
    hidden = protected(months, waiting)
    month_table = months_table(months, hidden)
    figures = closure_stats(month_table.rows[-1][-1], days, people)
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
                tables=[waiting_table(waiting, today or date.today(), hidden)],
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


def closure_stats(rate: str, days: Sequence[int], people: int) -> list[Stat]:
    """The headline: `rate` is the monthly table's "All months" closure rate, hidden where that is."""
    median = metrics.median(days)
    return [
        Stat(
            "closure-rate",
            "Feedback closure rate",
            rate,
            "Share of the summaries owed that were sent (not shown when that would reveal fewer than 5 people).",
        ),
        Stat(
            "days-to-feedback",
            "Median days to feedback",
            # over 1 to 4 summaries, a median is close to telling when each of those few people heard
            HIDDEN if 0 < len(days) < SMALL_COUNT else _days(median),
            "From the decision to the first summary sent, for the summaries sent (not shown for fewer than 5).",
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


def _total(months: Sequence[Month]) -> Month:
    return Month(date.min, sum(m.owed for m in months), sum(m.sent for m in months))


def protected(months: Sequence[Month], waiting: Sequence[Decided]) -> frozenset[Cell]:
    """The cells to hide in the monthly table and the waiting list, protected together as one system.

    Each breakdown is a set of cells one equation links (its total among them): a month's row, a column
    with its "All months" total, a month's not yet sent with the changes decided in it, and all the
    changes with the "All months" not yet sent.
    """
    keyed: list[tuple[date | str, Month]] = [(month.month, month) for month in months] + [(TOTAL, _total(months))]
    counts: dict[Cell, int] = {(key, column): getattr(month, column) for key, month in keyed for column in COLUMNS}
    counts |= {(change.change_id, CHANGE): change.waiting for change in waiting}
    breakdowns: list[list[Cell]] = [[(key, column) for column in COLUMNS] for key, _ in keyed]
    breakdowns += [[(key, column) for key, _ in keyed] for column in COLUMNS]
    for key, _ in keyed:
        breakdowns.append(
            [(key, WAITING)]
            + [
                (change.change_id, CHANGE)
                for change in waiting
                if key == TOTAL or first_of_month(change.decided_on) == key
            ]
        )
    return protect(counts, breakdowns)


def months_table(months: Sequence[Month], hidden: frozenset[Cell]) -> Table:
    """One row per month and an "All months" row, with the cells `protected` hides."""
    keyed: list[tuple[date | str, str, Month]] = [(month.month, format_month(month.month), month) for month in months]
    keyed.append((TOTAL, "All months", _total(months)))
    body = []
    for key, name, month in keyed:
        cells = [cell(getattr(month, column), (key, column) in hidden) for column in COLUMNS]
        rate = HIDDEN if {(key, SENT), (key, WAITING)} & hidden else closure_rate(month.sent, month.owed)
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


def waiting_table(waiting: Sequence[Decided], today: date, hidden: frozenset[Cell]) -> Table:
    """The changes with people still waiting, with the cells `protected` hides."""
    rows = [
        [
            change.title,
            label(change.status),
            long_date(change.decided_on),
            format_count((today - change.decided_on).days),
            cell(change.waiting, (change.change_id, CHANGE) in hidden),
        ]
        for change in waiting
    ]
    return Table(
        key="waiting",
        caption=f"Decided changes with people still waiting to hear, oldest first (as of {long_date(today)})",
        columns=("Change", "Status", "Decided on", "Days since decision", "People waiting"),
        rows=rows,
        numeric=(3, 4),
        note=f"Days since decision are counted to today, {long_date(today)}. " + PRIVACY,
    )
