"""Benchmarking: an organisation's rates beside the median of the member charities that opted in.

Opt-in is per organisation (`Organisation.benchmarking`, set by its admins on the ingest admin page).
What crosses organisations is only this, and only to a reader whose own organisation opted in:

- rates, never counts of people or anything else: the influence rate, the feedback closure rate, the
  share of activities that are co-production or user-led, and area coverage (of sixteen), each as defined
  in dashboard/metrics/__init__.py, for the reader's area and level;
- as a median over the participating organisations, never with an organisation's id or name, and only as
  a band (BAND_POINTS percentage points wide; area coverage in bands of AREA_BAND areas), never the exact
  median;
- the reader's own closure rate is hidden where the Feedback loop page hides it (it would reveal a count
  of 1 to 4 people).

Four organisations acting together (or four the operator made) beside one other could otherwise read that
one's exact rate: with theirs at 0, 0, 100 and 100%, a median of five is the fifth's own rate, and a
period of one day could single out one meeting. So every figure is bound by four rules:

1. Fixed periods only: the calendar quarters that have ended and overlap the period chosen (the latest
   of them when the period is shorter than a quarter). The section says which quarters it shows; with
   none ended yet, a sentence says so (QUARTERS_ONLY).
2. Real activity only: an organisation takes part only with at least MIN_ACTIVITIES activities held and
   MIN_PARTICIPANTS different participants (attending or contributing) in those quarters, whatever the
   area and level filters.
3. Never the platform operator's own organisation (`Organisation.operator`). Organisations do not record
   who created them, so organisations the operator creates for testing or demonstration must never opt in
   (docs/operations/security.md).
4. At least MIN_ORGANISATIONS take part after those rules (the reader's own counts when it has figures);
   with fewer, a sentence says so without saying how many. A rate some participants do not have (nothing
   to divide by) is compared over those that have it, and shown only when at least five do.

Banding does not stop a fifth organisation's rate being placed within its band by four who collude; it
stops anything finer, and the quarter and activity rules make the colluders' own figures costly to
arrange (tests/dashboard/test_benchmarking_attack.py).

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

import math
import statistics
import threading
import time
import weakref
from collections import defaultdict
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field, replace
from datetime import date, timedelta
from typing import Any

from sqlalchemy import Connection, Engine, Select, and_, case, func, select, union
from sqlalchemy.sql.expression import FromClause

from dashboard import tables
from dashboard.formatting import NOT_APPLICABLE, SUPPRESSED, format_count, format_percent
from dashboard.metrics import AREAS, AT, CH, CL, CP, DECIDED, FB, INFLUENCING, A, C, P, Scope, during, same, table_of
from dashboard.pages import Section, feedback
from dashboard.pages.people import HIDDEN
from impact.auth.accounts import Organisation
from schemas.vocab import Level

MIN_ORGANISATIONS = 5  # a median over fewer could come close to one organisation's own figure
MIN_ACTIVITIES = 3  # in the quarters shown, whatever the filters: fewer is not real activity
MIN_PARTICIPANTS = 5  # different people attending or contributing in the quarters shown
BAND_POINTS = 10  # medians of shares are shown as bands this many percentage points wide
AREA_BAND = 4  # medians of area coverage as bands of this many areas (1-4, 5-8, 9-12, 13-16)
QUARTERS_ONLY = (
    "Benchmarking against other member charities covers whole calendar quarters that have ended; the period "
    "chosen does not overlap one yet."
)
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
    start: date | None = None  # the whole calendar quarters compared: [start, end)
    end: date | None = None


def _quarter_start(day: date) -> date:
    return date(day.year, 3 * ((day.month - 1) // 3) + 1, 1)


def _next_quarter(start: date) -> date:
    return date(start.year + 1, 1, 1) if start.month == 10 else date(start.year, start.month + 3, 1)


def quarters(scope: Scope, today: date) -> Scope | None:
    """The scope over the calendar quarters that have ended by `today` and overlap its period (the first
    to the last of them); None when none has."""
    first = last = None
    quarter = _quarter_start(scope.start)
    while quarter < max(scope.end, scope.start + _ONE_DAY):  # a period of no days still overlaps its quarter
        following = _next_quarter(quarter)
        if following <= today:
            first, last = first or quarter, following
        quarter = following
    if first is None or last is None:
        return None
    return replace(scope, start=first, end=last)


def quarters_label(start: date, end: date) -> str:
    """'Q1 2025' or 'Q1 2025 to Q2 2025'."""

    def name(day: date) -> str:
        return f"Q{(day.month - 1) // 3 + 1} {day.year}"

    last = date(end.year - 1, 10, 1) if end.month == 1 else date(end.year, end.month - 3, 1)
    return name(start) if last == start else f"{name(start)} to {name(last)}"


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
_ONE_DAY = timedelta(days=1)


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


def _active(conn: Connection, scope: Scope, orgs: Orgs) -> set[str]:
    """Those of `orgs` with real activity in the scope's period, whatever its filters: at least
    MIN_ACTIVITIES activities held and MIN_PARTICIPANTS different people attending or contributing."""
    held = select(A.c.org_id).where(A.c.org_id.in_(orgs), during(A.c.held_on, scope)).group_by(A.c.org_id)
    busy = set(conn.execute(held.having(func.count() >= MIN_ACTIVITIES)).scalars())
    if not busy:
        return busy
    people = union(
        select(AT.c.org_id, AT.c.participant_id).where(AT.c.org_id.in_(busy), during(AT.c.attended_on, scope)),
        select(CP.c.org_id, CP.c.participant_id)
        .select_from(CP.join(C, same(C, CP, "contribution_id")))
        .where(C.c.org_id.in_(busy), during(C.c.made_on, scope)),
    ).subquery("people")
    found = {
        org_id: count for org_id, count in conn.execute(select(people.c.org_id, func.count()).group_by(people.c.org_id))
    }
    return {org_id for org_id in busy if found.get(org_id, 0) >= MIN_PARTICIPANTS}


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
    """The counts of every opted-in organisation with real activity in the scope's period (see _active), for
    its period and filters: the same for every reader,
    so kept for CACHE_SECONDS. A change to who opted in is a new key, so it shows at once."""
    key = (scope.start, scope.end, scope.area, scope.level, opted)
    now = time.monotonic()
    with _cache_lock:
        entries = _cache.setdefault(conn.engine, {})
        found = entries.get(key)
    if found is not None and now - found[0] < CACHE_SECONDS:
        return found[1]
    active = tuple(sorted(_active(conn, replace(scope, area=None, level=None), opted)))
    counts = _counts(conn, scope, active) if active else {}
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


def compare(conn: Connection, scope: Scope, *, today: date | None = None) -> Comparison | str | None:
    """The reader's rates beside the participants' medians over whole ended quarters; a sentence when fewer
    than five take part or no such quarter overlaps the period; None when the reader's organisation has not
    opted in (then nothing is shown)."""
    opted_in = _ORG.benchmarking.is_(True) & _ORG.operator.is_(False)  # never the operator's own organisation
    opted = tuple(conn.execute(select(_ORG.org_id).where(opted_in).order_by(_ORG.org_id)).scalars())
    if scope.org_id not in opted:
        return None
    whole = quarters(scope, date.today() if today is None else today)
    if whole is None:
        return QUARTERS_ONLY
    # the reader's own counts are read now, so they agree with the figures above them on the page
    yours = _counts(conn, whole, (scope.org_id,)).get(scope.org_id, Counts())
    taking_part = {org_id: found for org_id, found in _members(conn, whole, opted).items() if found.areas}
    taking_part.pop(scope.org_id, None)
    active = bool(yours.areas) and scope.org_id in _active(conn, replace(whole, area=None, level=None), opted)
    if active:
        taking_part[scope.org_id] = yours
    if len(taking_part) < MIN_ORGANISATIONS:
        return TOO_FEW
    left_out = {"partnership" if scope.level else "", "area-coverage" if scope.area else ""}
    rates = tuple(benchmark(key, label, taking_part, yours) for key, label in RATES.items() if key not in left_out)
    return Comparison(
        organisations=len(taking_part), rates=rates, yours_included=active, start=whole.start, end=whole.end
    )


# --- On the page ----------------------------------------------------------------------------------


def _areas(value: float | None) -> str:
    if value is None:
        return NOT_APPLICABLE
    return f"{value:.1f}".removesuffix(".0") + f" of {len(AREAS)}"


def _shown(benchmark: Benchmark, value: float | None) -> str:
    return format_percent(value) if benchmark.percent else _areas(value)


def band(benchmark: Benchmark, value: float | None) -> str:
    """A median as a band, never exactly: '40 to 50%' (the top band is '90 to 100%'), or '5 to 8 of 16' areas."""
    if value is None:
        return NOT_APPLICABLE
    if benchmark.percent:
        low = min(math.floor(round(value * 100, 6) / BAND_POINTS) * BAND_POINTS, 100 - BAND_POINTS)
        return f"{low} to {low + BAND_POINTS}%"
    if value <= 0:
        return f"0 of {len(AREAS)}"
    top = math.ceil(round(value, 6) / AREA_BAND) * AREA_BAND
    return f"{top - AREA_BAND + 1} to {top} of {len(AREAS)}"


def rows(comparison: Comparison) -> Sequence[Sequence[str]]:
    return [
        [
            rate.label,
            HIDDEN if rate.yours_hidden else _shown(rate, rate.yours),
            band(rate, rate.median),
            SUPPRESSED if rate.compared is None else format_count(rate.compared),
        ]
        for rate in comparison.rates
    ]


def section(comparison: Comparison) -> Section:
    """The comparison as a section of the overview page: one table, naming no other organisation."""
    count = format_count(comparison.organisations)
    period = quarters_label(comparison.start, comparison.end) if comparison.start and comparison.end else ""
    table = tables.Table(
        key="benchmark",
        caption=f"Your rates beside the median of {count} member charities, {period}",
        columns=("Rate", "Your organisation", "Median of member charities (band)", "Member charities with this rate"),
        rows=rows(comparison),
        numeric=(1, 2, 3),
        note=(
            f"A median is shown only as a band ({BAND_POINTS} percentage points wide, or {AREA_BAND} areas), and "
            "only when at least five member charities have the rate; “—” means there is nothing to work it out "
            "from (for example, no contributions in the period)."
        ),
    )
    return Section(
        title="Beside other member charities",
        key="benchmark",
        intro=(
            f"Compared over whole calendar quarters that have ended: {period}, the latest overlapping the period "
            f"chosen. {count} member charities that share their rates had real activity then (at least "
            f"{MIN_ACTIVITIES} activities and {MIN_PARTICIPANTS} different participants)"
            + (", yours among them. " if comparison.yours_included else "; yours did not. ")
            + "Only rates are shared, and only as a banded median: never counts of people, and no charity is named."
        ),
        tables=[table],
    )
