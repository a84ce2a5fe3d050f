"""People and reach: who was involved in the period, new and returning, by role and by each voluntary field.

Figures come from dashboard/metrics/__init__.py: "participants involved", "new" and "returning" as the metrics
define them, and `reach` (involved participants by role and by each demographic field; an erased person
counts as "erased" in every field, so each field adds up to the participants involved).

Privacy, where DOMAIN.md is silent on the details:
- Every count here is a count of people, and each field's table is a breakdown of the participants
  involved, so it is protected as a whole (`protect`): counts from 1 to 4 are hidden, and when that
  hides exactly one cell of a breakdown, its smallest other non-zero cell is hidden too, so that the
  hidden count cannot be worked out by subtracting the others from the total.
- A hidden cell of a breakdown reads "not shown", whether it was hidden for being small or to protect
  another (official statistics use one symbol for both, for the same reason): were the second marked
  apart from the first, the total less the shown cells could still give the small one away. Totals that
  belong to no breakdown read "fewer than 5", as on every page.
- New and returning participants are treated as a breakdown of the participants involved (over one
  month they add up to it), so one is never shown when the other is hidden.
- A share (percentage of the participants involved) is shown exactly where its count is shown: a shown
  count and the shown total already give it, and a hidden count's share would give the count away.
- Every value of each field is listed (0 if nobody), then "not answered" and "erased"; "not in the
  register" (an involvement with no register entry, which the quality gate prevents) only if any.
- In charts a hidden count is a gap (None), never a bar.

At most four aggregate queries: the involved, new and returning counts, and one grouped reach query.
"""

from __future__ import annotations

from collections.abc import Hashable, Iterable, Mapping, Sequence
from typing import TypeVar

import plotly.graph_objects as go
from sqlalchemy import Connection

from dashboard import charts, metrics
from dashboard.filters import Filters
from dashboard.formatting import SUPPRESSED, field_name, format_count, format_people, format_percent, value_label
from dashboard.metrics import SMALL_COUNT, suppress
from dashboard.pages import Chart, Page, Section, Stat
from dashboard.tables import Table

SLUG = "people"
TITLE = "People and reach"
INTRO = (
    "How many people with lived experience were involved, how many were new or came back, and who they "
    "were: their role and what they chose to tell us about themselves."
)

HIDDEN = "not shown"  # a hidden cell of a breakdown: small, or hidden to protect a small one
PRIVACY = (
    f"Counts of 1 to 4 people are {HIDDEN}; nor, when only one count of a table would be hidden, is the next "
    "smallest, so that no hidden count can be worked out from the total."
)
K = TypeVar("K", bound=Hashable)


# --- Suppression (pure, table-tested) -------------------------------------------------------------------


def protect(counts: Mapping[K, int], breakdowns: Iterable[Sequence[K]]) -> frozenset[K]:
    """The cells to hide: every count from 1 to 4, then, in each breakdown (cells adding up to a shown total)
    left with exactly one hidden cell, its smallest other non-zero cell (the first, on a tie); repeated
    until nothing changes, as hiding a cell of one breakdown may expose another that shares it."""
    hidden = {key for key, count in counts.items() if 0 < count < SMALL_COUNT}
    groups = [list(breakdown) for breakdown in breakdowns]
    changed = True
    while changed:
        changed = False
        for group in groups:
            if sum(1 for key in group if key in hidden) != 1:
                continue
            others = [key for key in group if key not in hidden and counts[key] > 0]
            if others:
                hidden.add(min(others, key=lambda key: counts[key]))
                changed = True
    return frozenset(hidden)


def complementary(counts: Sequence[int]) -> frozenset[int]:
    """The indexes to hide in one breakdown: counts of 1 to 4, plus, if that is one cell, the smallest other."""
    return protect(dict(enumerate(counts)), [range(len(counts))])


def cell(count: int, hidden: bool) -> str:
    """A count of people as a table shows it."""
    return HIDDEN if hidden else format_count(count)


# --- The page ----------------------------------------------------------------------------------------


def build(conn: Connection, filters: Filters, org_id: str) -> Page:
    scope = filters.to_scope(org_id)
    involved, new, returning = metrics.participant_counts(conn, scope)
    reach = metrics.reach(conn, scope) if involved else {name: {} for name in metrics.REACH_FIELDS}
    figures = people_stats(involved, new, returning)
    sections = [
        Section(
            title="Participants",
            key="participants",
            intro=PRIVACY,
            stats=figures,
            tables=[people_table(figures)],
        )
    ]
    for name in metrics.REACH_FIELDS:
        table = field_table(name, reach[name], involved)
        sections.append(
            Section(
                title=f"By {field_name(name)}",
                key=f"by-{table.key}",
                intro=_field_intro(name),
                chart=Chart(field_figure(table), field_summary(name, table), table.key),
                tables=[table],
            )
        )
    return Page(sections=sections)


def _field_intro(name: str) -> str:
    if name == "role":
        return "Service users, patients and carers (family, partners or friends who care; never paid carers)."
    return (
        f"Telling us their {field_name(name)} is voluntary: “Prefer not to say” is a choice people made; "
        "“Not answered” means they left it blank."
    )


def new_and_returning(involved: int, new: int, returning: int) -> tuple[str, str]:
    """How to show the new and the returning participants beside the participants involved.

    Everyone involved is new, returning, or both (someone involved before the period is returning), so
    the three figures split the people involved into new only (involved - returning), both (new +
    returning - involved) and involved before (involved - new). Any of those from 1 to 4 could be worked
    out by subtraction: then neither figure is shown.
    """
    parts = (involved - returning, new + returning - involved, involved - new)
    if any(0 < part < SMALL_COUNT for part in parts) or suppress(new) is None or suppress(returning) is None:
        return HIDDEN, HIDDEN
    return format_count(new), format_count(returning)


def people_stats(involved: int, new: int, returning: int) -> list[Stat]:
    shown_new, shown_returning = new_and_returning(involved, new, returning)
    return [
        Stat(
            "people-involved",
            "Participants involved",
            format_people(involved),
            "People with at least one attendance or contribution in this period.",
        ),
        Stat(
            "people-new",
            "New participants",
            shown_new,
            "Involved for the first time in this period.",
        ),
        Stat(
            "people-returning",
            "Returning participants",
            shown_returning,
            "Involved in two or more different months, up to the end of this period.",
        ),
    ]


def people_table(stats: Sequence[Stat]) -> Table:
    return Table(
        key="participants",
        caption="Participants involved, new and returning",
        columns=("Figure", "This period", "What it counts"),
        rows=[[stat.label, stat.value, stat.note] for stat in stats],
        numeric=(1,),
        note=f"“{SUPPRESSED}” and “{HIDDEN}”: too few people to show without risk of identifying someone.",
    )


def values_of(name: str, counted: Mapping[str, int]) -> list[str]:
    """Every value of a field in display order: its vocabulary, not answered, erased, then any other counted."""
    order = [*metrics.REACH_FIELDS[name], metrics.NOT_ANSWERED, metrics.ERASED]
    if name == "role":  # a role is required: "not answered" appears only if it ever occurs
        order.remove(metrics.NOT_ANSWERED)
    return order + [value for value in counted if value not in order]


def field_table(name: str, counted: Mapping[str, int], involved: int) -> Table:
    """One row per value of the field: participants (protected) and their share of the participants involved."""
    values = values_of(name, counted)
    counts = [counted.get(value, 0) for value in values]
    hidden = complementary(counts)
    rows = [
        [
            value_label(value),
            cell(count, index in hidden),
            HIDDEN if index in hidden else format_percent(count / involved if involved else None),
        ]
        for index, (value, count) in enumerate(zip(values, counts, strict=True))
    ]
    rows.append(["All participants involved", format_people(involved), format_percent(1.0 if involved else None)])
    return Table(
        key=name.replace("_", "-"),
        caption=f"Participants involved by {field_name(name)}",
        columns=(field_name(name).capitalize(), "Participants", "Share of participants involved"),
        rows=rows,
        numeric=(1, 2),
        note=PRIVACY,
    )


def _shown(table: Table) -> list[tuple[str, int | None]]:
    """(label, count or None when hidden) for each value row of a field's table (not its total)."""
    return [(row[0], None if row[1] == HIDDEN else int(row[1].replace(",", ""))) for row in table.rows[:-1]]


def field_figure(table: Table) -> go.Figure:
    """Horizontal bars in the table's order, top to bottom; a hidden count is a gap.

    The layout is given whole to the constructor (each later update costs plotly a validation pass).
    """
    bars = _shown(table)
    figure = go.Figure(
        go.Bar(
            x=[count for _, count in bars],
            y=[name for name, _ in bars],
            orientation="h",
            marker_color=charts.BLUE,
            customdata=[row[1] for row in table.rows[:-1]],
            hovertemplate="%{y}: %{customdata}<extra></extra>",
            name="Participants",
        ),
        layout={
            "yaxis": {"autorange": "reversed", "type": "category", "showgrid": False, "automargin": True},
            "xaxis": {
                "rangemode": "tozero",
                "tickformat": ",d",
                "title": {"text": "Participants"},
                "gridcolor": charts.GRID,
            },
        },
    )
    return charts.styled(figure, height=max(240, 34 * len(bars) + 100), legend=False)


def field_summary(name: str, table: Table) -> str:
    bars = _shown(table)
    hidden = sum(1 for _, count in bars if count is None)
    shown = [(value, count) for value, count in bars if count]
    gaps = (
        f" {format_count(hidden)} {'group is' if hidden == 1 else 'groups are'} not shown, to protect privacy."
        if hidden
        else ""
    )
    if not shown:
        if not hidden:
            return f"Participants by {field_name(name)}: nobody was involved in this period."
        return f"Participants by {field_name(name)}: no group can be shown without risk of identifying someone.{gaps}"
    top, most = max(shown, key=lambda item: item[1] or 0)
    return f"Participants by {field_name(name)}: the largest group shown is {top} ({format_count(most or 0)}).{gaps}"
