"""Influence, "you said, we did": the changes of the period, the contributions behind them, and how long they took.

Which changes: those counted in the period as dashboard/metrics/__init__.py counts "changes influenced": a decided
change (`agreed`, `implemented`, `declined`) in the period holding its decision, a still `proposed`
one in the period holding its recording; each with at least one linked contribution. The area filter
applies to the change's own area; the level filter to the linked contributions' activities, so with a
level a change shows only through (and with only) its links at that level. The figures agree with the
Overview's "Changes influenced" and "Days to change".

Decisions where DOMAIN.md is silent:
- A flow of the diagram, and a unit of "days to change", is one (contribution, change) link: a
  contribution behind two changes flows twice. The diagram's first column is the contribution's area
  (what people spoke about), which may differ from the change's area.
- Each change's "days from first contribution to decision" runs from its EARLIEST linked contribution:
  how long people waited from first raising it. The page's headline median is over every link, as the
  Overview's "Days to change" is. A contribution linked to a change decided before it was made gives
  negative days; the distribution shows those in a band of their own, never hidden in "0 to 7".
- Each change lists up to three of the contributions behind it (strongest influence first, then the
  earliest), each cut to about 140 characters at a word, then "and N more"; the CSV has the same text.
- A contribution any of whose participants asked for their details to be erased is never quoted (its
  text is not even read), as in the annual report; it still counts as a link, since counts hold no
  personal data. When no contribution behind a change can be quoted, the cell says why.
- "People behind the decisions" (distinct participants who made a contribution linked to a change
  decided in the period) is a count of people, so 1 to 4 shows as "fewer than 5". No other figure
  here counts people: changes, contributions and links are not suppressed.

Two queries, both bounded to the organisation and the period: the links (one row each, the text cut
short in SQL) and the count of distinct people behind them; Python shapes everything else from the links.
"""

from __future__ import annotations

import statistics
from collections import Counter
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import date

import plotly.graph_objects as go
from sqlalchemy import Connection, and_, case, exists, func, select

from dashboard import charts
from dashboard.filters import Filters, long_date
from dashboard.formatting import NOT_APPLICABLE, SUPPRESSED, counted, format_count, format_people, format_percent
from dashboard.metrics import CH, CL, CP, STATUSES, C, P, Scope, as_date, changes_where, linked_changes, same
from dashboard.pages import Chart, Page, Section, Stat
from dashboard.pages.flows import flow_table, sankey_figure, sankey_summary, strength_rank
from dashboard.tables import Table
from schemas.vocab import DECIDED_STATUSES, label

SLUG = "influence"
TITLE = "Influence"
INTRO = (
    "You said, we did: the changes decided in this period (and those proposed in it), the contributions "
    "behind them, and how long it took from people speaking to the organisation deciding."
)

DECIDED: frozenset[str] = frozenset(status.value for status in DECIDED_STATUSES)
QUOTED = 3  # contributions quoted for each change
SNIPPET = 140  # characters of each quoted contribution
FETCHED = 2 * SNIPPET  # characters read from the database (whitespace is squeezed after)
LIMIT = 100  # rows of the changes table on screen (the CSV has them all)
BANDS: tuple[tuple[str, int, int | None], ...] = (
    ("0 to 7 days", 0, 7),
    ("8 to 30 days", 8, 30),
    ("31 to 90 days", 31, 90),
    ("91 to 180 days", 91, 180),
    ("Over 180 days", 181, None),
)
BEFORE = "Decided before the contribution"  # the band of negative days, shown only when there are any
NOT_QUOTED = "(not quoted: the person asked for their details to be erased)"
NOT_QUOTED_MANY = "(not quoted: the people asked for their details to be erased)"


@dataclass(frozen=True)
class Link:
    """One contribution linked to one change counted in the period."""

    change_id: str
    title: str
    change_area: str
    status: str
    recorded_on: date
    decided_on: date | None
    contribution_id: str
    contribution_area: str
    made_on: date
    text: str
    strength: str
    erased: bool = False  # a participant of the contribution asked for their details to be erased: never quoted

    @property
    def days(self) -> int | None:
        """Days from the contribution to the decision (None while the change is proposed)."""
        if self.status not in DECIDED or self.decided_on is None:
            return None
        return (self.decided_on - self.made_on).days


# --- Reading -------------------------------------------------------------------------------------------


def read_links(conn: Connection, scope: Scope) -> list[Link]:
    """Every (contribution, change) link of the changes counted in the scope's period, in one query.

    The text of a contribution with an erased participant is not read (it comes back empty, `erased` set).
    """
    erased = exists(
        select(CP.c.participant_id)
        .select_from(CP.join(P, and_(P.c.org_id == CP.c.org_id, P.c.participant_id == CP.c.participant_id)))
        .where(CP.c.org_id == C.c.org_id, CP.c.contribution_id == C.c.contribution_id, P.c.erased.is_(True))
    )
    query = select(
        CH.c.change_id,
        CH.c.title,
        CH.c.area.label("change_area"),
        CH.c.status,
        CH.c.recorded_on,
        CH.c.decided_on,
        C.c.contribution_id,
        C.c.area.label("contribution_area"),
        C.c.made_on,
        case((erased, None), else_=func.substr(C.c.text, 1, FETCHED)).label("text"),
        CL.c.strength,
        erased.label("erased"),
    ).select_from(linked_changes(scope))
    rows = conn.execute(changes_where(scope, query, decided_only=False))
    return [
        Link(
            change_id=row.change_id,
            title=row.title,
            change_area=row.change_area,
            status=row.status,
            recorded_on=as_date(row.recorded_on),
            decided_on=as_date(row.decided_on) if row.decided_on is not None else None,
            contribution_id=row.contribution_id,
            contribution_area=row.contribution_area,
            made_on=as_date(row.made_on),
            text=row.text or "",
            strength=row.strength,
            erased=bool(row.erased),
        )
        for row in rows
    ]


def read_people(conn: Connection, scope: Scope) -> int:
    """Distinct participants who made a contribution linked to a change decided in the period."""
    joined = linked_changes(scope).join(CP, same(CP, C, "contribution_id"))
    query = select(func.count(func.distinct(CP.c.participant_id))).select_from(joined)
    return int(conn.execute(changes_where(scope, query, decided_only=True)).scalar_one())


def build(conn: Connection, filters: Filters, org_id: str) -> Page:
    scope = filters.to_scope(org_id)
    links = read_links(conn, scope)
    people = read_people(conn, scope)
    figures = headline_stats(links, people)
    flows = flow_table(links)
    days = days_table(links)
    return Page(
        sections=[
            Section(
                title="You said, we did",
                key="influence-headline",
                intro="Changes informed by at least one contribution from people with lived experience.",
                stats=figures,
                tables=[headline_table(figures)],
            ),
            Section(
                title="From what people said to what was decided",
                key="flows",
                intro=(
                    "Each flow is one contribution linked to one change: from the area people spoke about, through "
                    "the strength of its influence, to the change's status now. A contribution behind two changes "
                    "flows twice. The area filter chooses changes by their own area."
                ),
                chart=Chart(sankey_figure(flows), sankey_summary(links), flows.key),
                tables=[flows],
            ),
            Section(
                title="Changes and the contributions behind them",
                key="changes",
                intro="Newest decision first; changes still proposed come last, newest first.",
                tables=[changes_table(links)],
                limit=LIMIT,
            ),
            Section(
                title="Days from contribution to change",
                key="days",
                intro="For each contribution linked to a change decided in this period: the days until the decision.",
                chart=Chart(days_figure(days), days_summary(links), days.key),
                tables=[days],
            ),
        ]
    )


# --- Headline ------------------------------------------------------------------------------------------


def _days(value: float | None) -> str:
    if value is None:
        return NOT_APPLICABLE
    return f"{value:,.1f}".removesuffix(".0")


STATUS_NOTES = {
    "agreed": "Agreed, to be put into practice.",
    "implemented": "Put into practice.",
    "declined": "Decided against; people are told why.",
}


def headline_stats(links: Sequence[Link], people: int) -> list[Stat]:
    by_status = Counter({link.change_id: link.status for link in links}.values())
    days = [link.days for link in links if link.days is not None]
    median = float(statistics.median(days)) if days else None
    behind = {link.contribution_id for link in links if link.days is not None}
    decided = [status for status in STATUSES if status in DECIDED]
    return [
        Stat(
            "changes-decided",
            "Changes decided",
            format_count(sum(by_status[status] for status in decided)),
            "Agreed, implemented or declined in this period.",
        ),
        *(
            Stat(f"changes-{status}", label(status), format_count(by_status[status]), STATUS_NOTES.get(status, ""))
            for status in decided
        ),
        Stat(
            "changes-proposed",
            "Still proposed",
            format_count(by_status["proposed"]),
            "Recorded in this period and not yet decided.",
        ),
        Stat(
            "contributions-behind",
            "Contributions behind the decisions",
            format_count(len(behind)),
            "Contributions linked to a change decided in this period.",
        ),
        Stat(
            "people-behind",
            "People behind the decisions",
            format_people(people),
            f"People who made those contributions (“{SUPPRESSED}” when 1 to 4, so nobody can be identified).",
        ),
        Stat(
            "days-to-change",
            "Median days to change",
            _days(median),
            f"From a contribution to the decision it informed, over {counted(len(days), 'link')}.",
        ),
    ]


def headline_table(stats: Sequence[Stat]) -> Table:
    return Table(
        key="influence-headline",
        caption="Changes decided and the contributions behind them",
        columns=("Figure", "This period", "What it counts"),
        rows=[[stat.label, stat.value, stat.note] for stat in stats],
        numeric=(1,),
    )


# --- The changes ----------------------------------------------------------------------------------------


def snippet(text: str) -> str:
    """The text on one line, cut at a word to about SNIPPET characters, in quotation marks."""
    squeezed = " ".join(text.split())
    if not squeezed:
        return "(no words recorded)"
    if len(squeezed) > SNIPPET:
        cut = squeezed[:SNIPPET].rsplit(" ", 1)[0] if " " in squeezed[:SNIPPET] else squeezed[:SNIPPET]
        squeezed = cut.rstrip(" ,;:.") + "…"
    return f"“{squeezed}”"


def _said(links: Sequence[Link]) -> str:
    """Up to QUOTED contributions, never one with an erased participant, then how many more are behind it."""
    ordered = sorted(links, key=lambda link: (strength_rank(link.strength), link.made_on, link.contribution_id))
    quotable = [link for link in ordered if not link.erased][:QUOTED]
    if not quotable:
        return NOT_QUOTED if len(ordered) == 1 else NOT_QUOTED_MANY
    quoted = "; ".join(snippet(link.text) for link in quotable)
    more = len(ordered) - len(quotable)
    return f"{quoted}; and {format_count(more)} more" if more > 0 else quoted


def changes_table(links: Sequence[Link]) -> Table:
    """One row per change counted in the period: newest decision first, then the proposed, newest recorded first."""
    by_change: dict[str, list[Link]] = {}
    for link in links:
        by_change.setdefault(link.change_id, []).append(link)

    def decision(change: Link) -> date | None:
        return change.decided_on if change.days is not None else None

    def order(change: list[Link]) -> tuple[int, int, str, str]:
        first = change[0]
        decided = decision(first)
        day = decided or first.recorded_on
        return (0 if decided else 1, -day.toordinal(), first.title, first.change_id)

    rows = []
    for change in sorted(by_change.values(), key=order):
        first, decided = change[0], decision(change[0])
        waited = (decided - min(link.made_on for link in change)).days if decided else None
        rows.append(
            [
                first.title,
                label(first.change_area),
                label(first.status),
                long_date(first.recorded_on),
                long_date(decided) if decided else NOT_APPLICABLE,
                format_count(len(change)),
                label(min(change, key=lambda link: strength_rank(link.strength)).strength),
                NOT_APPLICABLE if waited is None else format_count(waited),
                _said(change),
            ]
        )
    return Table(
        key="changes",
        caption="Changes counted in this period, with the contributions behind them",
        columns=(
            "Change",
            "Area",
            "Status",
            "Recorded",
            "Decided",
            "Contributions linked",
            "Strongest influence",
            "Days from first contribution to decision",
            "What people said",
        ),
        rows=rows,
        numeric=(5, 7),
        text=(8,),
        note=(
            "Days run from the earliest contribution behind the change to its decision. "
            f"Up to {QUOTED} contributions are quoted, strongest influence first, each shortened to about "
            f"{SNIPPET} characters; never one made by someone who asked for their details to be erased."
        ),
    )


# --- Days to change ------------------------------------------------------------------------------------


def _band(days: int) -> str:
    if days < 0:
        return BEFORE
    for name, low, high in BANDS:
        if days >= low and (high is None or days <= high):
            return name
    raise AssertionError(days)  # pragma: no cover - the last band is open-ended


def days_table(links: Sequence[Link]) -> Table:
    """Decided links by band of days from the contribution to the decision (every band listed, 0 if none)."""
    counts = Counter(_band(link.days) for link in links if link.days is not None)
    names = ([BEFORE] if counts[BEFORE] else []) + [name for name, _, _ in BANDS]
    total = sum(counts.values())
    return Table(
        key="days-to-change",
        caption="Links by days from the contribution to the decision",
        columns=("Days to the decision", "Links", "Share of links"),
        rows=[
            [name, format_count(counts[name]), format_percent(counts[name] / total if total else None)]
            for name in names
        ],
        numeric=(1, 2),
        note="A link is one contribution behind one change decided in this period.",
    )


def days_figure(days: Table) -> go.Figure:
    names = [row[0] for row in days.rows]
    values = [int(row[1].replace(",", "")) for row in days.rows]
    figure = go.Figure(
        go.Bar(
            x=names,
            y=values,
            marker_color=charts.BLUE,
            text=[row[1] for row in days.rows],
            textposition="outside",
            cliponaxis=False,
            hovertemplate="%{x}: %{y:,} links<extra></extra>",
        )
    )
    charts.styled(figure, height=360, legend=False)
    figure.update_xaxes(type="category", title_text="Days from the contribution to the decision")
    figure.update_yaxes(rangemode="tozero", tickformat=",d", title_text="Links")
    return figure


def days_summary(links: Sequence[Link]) -> str:
    days = [link.days for link in links if link.days is not None]
    if not days:
        return "No change with a linked contribution was decided in this period, so there are no days to show."
    counts = Counter(_band(day) for day in days)
    names = [BEFORE] + [name for name, _, _ in BANDS]
    busiest = max(names, key=lambda name: (counts[name], -names.index(name)))  # a tie goes to the quicker band
    when = "before the contribution was made" if busiest == BEFORE else f"{busiest} after the contribution"
    return (
        f"Most often ({format_count(counts[busiest])} of {counted(len(days), 'link')}) the decision came {when}; "
        f"the median was {_days(float(statistics.median(days)))} days."
    )
