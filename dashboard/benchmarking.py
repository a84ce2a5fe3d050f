"""Benchmarking: an organisation's rates beside the median of the member charities that opted in.

Opt-in is per organisation (`Organisation.benchmarking`, set by its admins on the ingest admin page).
What crosses organisations is only this, and only to a reader whose own organisation opted in:

- rates, never counts of people or anything else: the influence rate, the feedback closure rate, the
  share of activities that are co-production or user-led, and area coverage (of sixteen), each as defined
  in dashboard/metrics/__init__.py, for the reader's period, area and level;
- as a median over the participating organisations, never with an organisation's id or name (a median
  of an odd number of organisations is one of their rates, unattributed: that is what a median is);
- the reader's own closure rate is hidden where the Feedback loop page hides it (it would reveal a count
  of 1 to 4 people);
- only when at least five participate: opted-in organisations with an activity, attendance or contribution
  in the scope (the reader's own counts when it has one). With fewer, a sentence says so without saying how
  many. A rate some participants do not have (nothing to divide by) is compared over those that have it,
  and shown only when at least five do.

Under a level filter every activity is at that level, so the co-production share says nothing and is left
out; under an area filter, so is area coverage.

The figures come from a few grouped queries (GROUP BY org_id, area) over all the opted-in organisations at
once, never one organisation at a time; Python takes the medians. Every member's counts for a period and
filters are the same for every reader, so they are kept for CACHE_SECONDS (per database): a page then
costs only the reader's own counts, read fresh so that they agree with the figures above them. Who opted
in is read every time and is part of the cache's key, so opting in or out shows at once. Joins are on
`org_id` as well as on the identifier, as in dashboard/metrics/__init__.py.
"""

from __future__ import annotations

import statistics
import threading
import time
import weakref
from collections import defaultdict
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

from sqlalchemy import Connection, Engine, Select, and_, case, func, select
from sqlalchemy.sql.expression import FromClause

from dashboard import tables
from dashboard.formatting import NOT_APPLICABLE, SUPPRESSED, format_count, format_percent
from dashboard.metrics import AREAS, AT, CH, CL, CP, DECIDED, FB, INFLUENCING, A, C, P, Scope, during, same, table_of
from dashboard.pages import Section, feedback
from dashboard.pages.people import HIDDEN
from impact.auth.accounts import Organisation
from schemas.vocab import Level

MIN_ORGANISATIONS = 5  # a median over fewer could come close to one organisation's own figure
TOO_FEW = (
    "Benchmarking against other member charities starts when at least five that share their rates have figures "
    "for the period chosen; fewer than five do so far."
)
_PARTNERSHIP = sorted((Level.co_production.value, Level.user_led.value))
RATES = {  # key: label (the order of the table's rows)
    "influence-rate": "Influence rate",
    "closure-rate": "Feedback closure rate",
    "partnership": "Activities co-produced or user-led",
    "area-coverage": "Areas with involvement",
}


_ORG = table_of(Organisation).c


@dataclass(frozen=True)
class Benchmark:
    """One rate: the reader's organisation's value and the median over the participants that have the rate.

    `median` and `compared` are None when fewer than five participants have the rate (neither is shown then).
    """

    key: str
    label: str
    yours: float | None
    median: float | None
    compared: int | None
    percent: bool = True  # a share (shown as "42%"); otherwise a number of areas out of sixteen
    yours_hidden: bool = False  # the reader's own rate would reveal a count of 1 to 4 people (closure)


@dataclass(frozen=True)
class Comparison:
    """The reader's rates beside the medians of `organisations` participating member charities (at least five)."""

    organisations: int
    rates: tuple[Benchmark, ...]
    yours_included: bool = True  # False when the reader's organisation has no figures in the period


# --- Queries: a few rows per organisation, for any number of organisations -------------------------


@dataclass
class Counts:
    """One organisation's counts in the scope, from which its rates are worked out (never shown themselves)."""

    areas: set[str] = field(default_factory=set)  # with an activity, attendance or contribution
    contributions: int = 0
    influenced: int = 0  # contributions linked to an agreed or implemented change
    activities: int = 0
    partnership: int = 0  # activities at co-production or user-led level
    owed: int = 0  # (participant, decided change) pairs owed a summary
    told: int = 0  # of those, the pairs that were sent one

    def rate(self, key: str) -> float | None:
        """One of RATES; None when there is nothing to work it out from."""
        part, whole = {
            "influence-rate": (self.influenced, self.contributions),
            "closure-rate": (self.told, self.owed),
            "partnership": (self.partnership, self.activities),
            "area-coverage": (len(self.areas), 1),
        }[key]
        return part / whole if whole else None


Orgs = tuple[str, ...]


def _filtered(query: Select[Any], scope: Scope, *, area: Any, level: Any) -> Select[Any]:
    if scope.area:
        query = query.where(area == scope.area)
    if scope.level:
        query = query.where(level == scope.level)
    return query


def _add_activities(conn: Connection, scope: Scope, orgs: Orgs, counts: dict[str, Counts]) -> None:
    partnership = func.sum(case((A.c.level.in_(_PARTNERSHIP), 1), else_=0))
    held = select(A.c.org_id, A.c.area, func.count(), partnership).where(
        A.c.org_id.in_(orgs), during(A.c.held_on, scope)
    )
    held = _filtered(held, scope, area=A.c.area, level=A.c.level).group_by(A.c.org_id, A.c.area)
    for org_id, area, count, at_partnership in conn.execute(held):
        counts[org_id].areas.add(area)
        counts[org_id].activities += count
        counts[org_id].partnership += int(at_partnership)
    attended = (  # an attendance's area and level are its activity's, wherever in time that activity is
        select(AT.c.org_id, AT.c.activity_id)
        .distinct()
        .where(AT.c.org_id.in_(orgs), during(AT.c.attended_on, scope))
        .subquery("attended")
    )
    areas = select(A.c.org_id, A.c.area).distinct().select_from(attended.join(A, same(A, attended, "activity_id")))
    for org_id, area in conn.execute(_filtered(areas, scope, area=A.c.area, level=A.c.level)):
        counts[org_id].areas.add(area)


def _add_contributions(conn: Connection, scope: Scope, orgs: Orgs, counts: dict[str, Counts]) -> None:
    def made(*columns: Any, joined: FromClause = C) -> Select[Any]:
        if scope.level:  # a contribution's level is its activity's: one made outside any activity has none
            joined = joined.join(A, same(A, C, "activity_id"))
        query = select(*columns).select_from(joined).where(C.c.org_id.in_(orgs), during(C.c.made_on, scope))
        return _filtered(query, scope, area=C.c.area, level=A.c.level)

    for org_id, area, count in conn.execute(made(C.c.org_id, C.c.area, func.count()).group_by(C.c.org_id, C.c.area)):
        counts[org_id].areas.add(area)
        counts[org_id].contributions += count
    linked = C.join(CL, same(CL, C, "contribution_id")).join(CH, same(CH, CL, "change_id"))
    influenced = made(C.c.org_id, func.count(func.distinct(C.c.contribution_id)), joined=linked)
    for org_id, count in conn.execute(influenced.where(CH.c.status.in_(INFLUENCING)).group_by(C.c.org_id)):
        counts[org_id].influenced = count


def _add_feedback(conn: Connection, scope: Scope, orgs: Orgs, counts: dict[str, Counts]) -> None:
    decided = and_(CH.c.org_id.in_(orgs), CH.c.status.in_(DECIDED), during(CH.c.decided_on, scope))
    joined = CH.join(CL, same(CL, CH, "change_id"))
    if scope.level:  # a change counts only through its links to contributions at that level
        joined = joined.join(C, same(C, CL, "contribution_id")).join(A, same(A, C, "activity_id"))
    joined = joined.join(CP, and_(CP.c.org_id == CL.c.org_id, CP.c.contribution_id == CL.c.contribution_id))
    joined = joined.join(P, same(P, CP, "participant_id"))
    owed = _filtered(
        select(CH.c.org_id, CP.c.participant_id, CH.c.change_id)
        .distinct()
        .select_from(joined)
        .where(decided, P.c.consent_to_contact.is_(True), P.c.erased.is_(False)),
        scope,
        area=CH.c.area,
        level=A.c.level,
    ).subquery("owed")
    sent = (  # feedback on the changes decided in the period only: a small set, however long the history
        select(FB.c.org_id, FB.c.participant_id, FB.c.change_id)
        .distinct()
        .select_from(FB.join(CH, same(CH, FB, "change_id")))
        .where(decided)
        .subquery("sent")
    )
    told = and_(*(sent.c[name] == owed.c[name] for name in ("org_id", "participant_id", "change_id")))
    pairs = select(owed.c.org_id, func.count(), func.count(sent.c.change_id)).select_from(owed.outerjoin(sent, told))
    for org_id, owed_count, told_count in conn.execute(pairs.group_by(owed.c.org_id)):
        counts[org_id].owed, counts[org_id].told = owed_count, told_count


def _counts(conn: Connection, scope: Scope, orgs: Orgs) -> dict[str, Counts]:
    """The counts of each of `orgs` that has figures in the scope's period and filters (its `org_id` is unused)."""
    counts: dict[str, Counts] = defaultdict(Counts)
    for add in (_add_activities, _add_contributions, _add_feedback):
        add(conn, scope, orgs, counts)
    return dict(counts)


# --- The members' counts, shared by every reader for a few minutes ---------------------------------

CACHE_SECONDS = 300.0
_CACHE_ENTRIES = 64
_cache: weakref.WeakKeyDictionary[Engine, dict[tuple[Any, ...], tuple[float, dict[str, Counts]]]]
_cache = weakref.WeakKeyDictionary()
_cache_lock = threading.Lock()


def _members(conn: Connection, scope: Scope, opted: Orgs) -> Mapping[str, Counts]:
    """Every opted-in organisation's counts for the scope's period and filters: the same for every reader,
    so kept for CACHE_SECONDS. A change to who opted in is a new key, so it shows at once."""
    key = (scope.start, scope.end, scope.area, scope.level, opted)
    now = time.monotonic()
    with _cache_lock:
        entries = _cache.setdefault(conn.engine, {})
        found = entries.get(key)
    if found is not None and now - found[0] < CACHE_SECONDS:
        return found[1]
    counts = _counts(conn, scope, opted)
    with _cache_lock:
        for old in [old for old, (at, _) in entries.items() if now - at >= CACHE_SECONDS]:
            del entries[old]
        while len(entries) >= _CACHE_ENTRIES:
            del entries[min(entries, key=lambda entry: entries[entry][0])]
        entries[key] = (now, counts)
    return counts


# --- The comparison -------------------------------------------------------------------------------


def benchmark(key: str, label: str, taking_part: Mapping[str, Counts], yours: Counts) -> Benchmark:
    """The reader's rate beside the median over the participants that have one (shown from five up)."""
    compared = [value for counts in taking_part.values() if (value := counts.rate(key)) is not None]
    enough = len(compared) >= MIN_ORGANISATIONS
    return Benchmark(
        key=key,
        label=label,
        yours=yours.rate(key),
        median=float(statistics.median(compared)) if enough else None,
        compared=len(compared) if enough else None,
        percent=key != "area-coverage",
        # as the Feedback loop page hides it: beside the summaries owed it shows, it would tell a small count
        yours_hidden=key == "closure-rate" and feedback.closure_rate(yours.told, yours.owed) == HIDDEN,
    )


def compare(conn: Connection, scope: Scope) -> Comparison | str | None:
    """The reader's rates beside the participants' medians; a sentence when fewer than five take part;
    None when the reader's organisation has not opted in (then nothing is shown)."""
    opted = tuple(conn.execute(select(_ORG.org_id).where(_ORG.benchmarking.is_(True)).order_by(_ORG.org_id)).scalars())
    if scope.org_id not in opted:
        return None
    # the reader's own counts are read now, so they agree with the figures above them on the page
    yours = _counts(conn, scope, (scope.org_id,)).get(scope.org_id, Counts())
    taking_part = {org_id: found for org_id, found in _members(conn, scope, opted).items() if found.areas}
    taking_part.pop(scope.org_id, None)
    if yours.areas:
        taking_part[scope.org_id] = yours
    if len(taking_part) < MIN_ORGANISATIONS:
        return TOO_FEW
    left_out = {"partnership" if scope.level else "", "area-coverage" if scope.area else ""}
    rates = tuple(benchmark(key, label, taking_part, yours) for key, label in RATES.items() if key not in left_out)
    return Comparison(organisations=len(taking_part), rates=rates, yours_included=bool(yours.areas))


# --- On the page ----------------------------------------------------------------------------------


def _areas(value: float | None) -> str:
    if value is None:
        return NOT_APPLICABLE
    return f"{value:.1f}".removesuffix(".0") + f" of {len(AREAS)}"


def _shown(benchmark: Benchmark, value: float | None) -> str:
    return format_percent(value) if benchmark.percent else _areas(value)


def rows(comparison: Comparison) -> Sequence[Sequence[str]]:
    return [
        [
            rate.label,
            HIDDEN if rate.yours_hidden else _shown(rate, rate.yours),
            _shown(rate, rate.median),
            SUPPRESSED if rate.compared is None else format_count(rate.compared),
        ]
        for rate in comparison.rates
    ]


def section(comparison: Comparison) -> Section:
    """The comparison as a section of the overview page: one table, naming no other organisation."""
    count = format_count(comparison.organisations)
    table = tables.Table(
        key="benchmark",
        caption=f"Your rates beside the median of {count} member charities",
        columns=("Rate", "Your organisation", "Median of member charities", "Member charities with this rate"),
        rows=rows(comparison),
        numeric=(1, 2, 3),
        note=(
            "A median is shown only when at least five member charities have the rate; “—” means there is "
            "nothing to work it out from (for example, no contributions in the period)."
        ),
    )
    return Section(
        title="Beside other member charities",
        key="benchmark",
        intro=(
            f"{count} member charities that share their rates have figures for this period"
            + (", yours among them. " if comparison.yours_included else "; yours has none. ")
            + "Only rates are shared, and only as a median: never counts of people, and no charity is named."
        ),
        tables=[table],
    )
