"""What staff pages show and pick from: the organisation's records in the read models.

Ingest reads these to display lists and pickers only; whether an event is accepted into the log
never depends on them (the processors check references). Every query is scoped to one organisation.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from typing import Any, Generic, TypeVar

from flask import abort
from sqlalchemy import Engine, func, literal, or_, tuple_
from sqlmodel import Session, col, select

from schemas.readmodels import (
    Activity,
    Attendance,
    Change,
    ChangeLink,
    Contribution,
    ContributionParticipant,
    Participant,
)
from schemas.vocab import AREA_LABELS, ChangeStatus, label

LIST_LIMIT = 2000  # the most a select or picker of activities or contributions lists; search finds the rest
PICKER_LIMIT = 100  # a participant picker lists this many before a search (it asks for one more, to know)
PAGE_SIZE = 25  # rows of a list page
QUERY_LENGTH = 100  # the longest search, in characters
QUERY_WORDS = 6  # more words than this are ignored: each one costs a pass over the rows
STATUS_LABELS = {status.value: label(status) for status in ChangeStatus}


@dataclass(frozen=True)
class Counts:
    participants: int
    activities: int
    contributions: int
    changes: int


def counts(engine: Engine, org_id: str) -> Counts:
    with Session(engine) as session:

        def count(model: type, *where: Any) -> int:
            return int(session.exec(select(func.count()).select_from(model).where(*where)).one())

        return Counts(
            count(Participant, Participant.org_id == org_id, col(Participant.erased).is_(False)),
            count(Activity, Activity.org_id == org_id),
            count(Contribution, Contribution.org_id == org_id),
            count(Change, Change.org_id == org_id),
        )


# --- Search ---------------------------------------------------------------------------------------------


def words(query: str) -> list[str]:
    """What a search looks for: each word of the query (every one must match), at most QUERY_WORDS."""
    cleaned = "".join(ch if ch.isprintable() else " " for ch in query[:QUERY_LENGTH])
    return list(dict.fromkeys(cleaned.split()))[:QUERY_WORDS]


def _contains(word: str, *columns: Any) -> Any:
    """Whether the columns' text, joined by spaces, contains the word, whatever its case: % and _ are taken
    literally. Both sides go through the database's lower() (SQLite folds ASCII letters only), and one LIKE
    per word covers every column (a word has no space, so it never spans two). No index helps a "contains":
    each search is one pass over the organisation's rows; lower() LIKE is three times quicker than ILIKE on
    PostgreSQL, as measured for bench/search.py."""
    text = columns[0]
    for column in columns[1:]:
        text = text.concat(" ").concat(column)  # ||: SQLite before 3.44 has no concat_ws
    escaped = word.replace("/", "//").replace("%", "/%").replace("_", "/_")
    return func.lower(text).like(func.lower(literal(f"%{escaped}%")), escape="/")


def _labelled(labels: dict[Any, str], word: str) -> list[str]:
    """The vocabulary values whose label or key contains the word (an area or a status searched by name)."""
    return [str(key) for key, text in labels.items() if word.lower() in text.lower() or word.lower() in str(key)]


def _named(org_id: str, word: str) -> Any:
    """The participants (not erased) whose name or reference contains the word. An erased person's name is
    gone from the register (NULL), so their old name finds nothing."""
    return select(Participant.participant_id).where(
        Participant.org_id == org_id,
        col(Participant.erased).is_(False),
        _contains(word, func.coalesce(col(Participant.display_name), ""), col(Participant.participant_id)),
    )


def _participant_match(query: str) -> list[Any]:
    name = func.coalesce(col(Participant.display_name), "")
    return [_contains(w, name, col(Participant.participant_id)) for w in words(query)]


def _activity_match(query: str) -> list[Any]:
    return [
        or_(
            _contains(w, col(Activity.title), col(Activity.activity_id)),
            col(Activity.area).in_(_labelled(AREA_LABELS, w)),
        )
        for w in words(query)
    ]


def _change_match(query: str) -> list[Any]:
    return [
        or_(
            _contains(w, col(Change.title), col(Change.change_id)),
            col(Change.status).in_(_labelled(STATUS_LABELS, w)),
            col(Change.area).in_(_labelled(AREA_LABELS, w)),
        )
        for w in words(query)
    ]


def _contribution_match(org_id: str, query: str) -> list[Any]:
    said_by = select(ContributionParticipant.contribution_id).where(ContributionParticipant.org_id == org_id)
    return [
        or_(
            _contains(w, col(Contribution.text), col(Contribution.contribution_id)),
            col(Contribution.area).in_(_labelled(AREA_LABELS, w)),
            col(Contribution.contribution_id).in_(
                said_by.where(col(ContributionParticipant.participant_id).in_(_named(org_id, w)))
            ),
        )
        for w in words(query)
    ]


# --- List pages ----------------------------------------------------------------------------------------

T = TypeVar("T")


@dataclass(frozen=True)
class Page(Generic[T]):
    """One page of a list: its rows, how many there are in all, and which page this is (from 1)."""

    rows: list[T]
    total: int
    number: int
    size: int = PAGE_SIZE

    @property
    def first(self) -> int:
        return (self.number - 1) * self.size + 1 if self.rows else 0

    @property
    def last(self) -> int:
        return self.first + len(self.rows) - 1 if self.rows else 0

    @property
    def pages(self) -> int:
        return max(1, -(-self.total // self.size))

    @property
    def has_previous(self) -> bool:
        return self.number > 1

    @property
    def has_next(self) -> bool:
        return self.number * self.size < self.total


def _page(session: Session, model: Any, where: list[Any], order: list[Any], number: int, size: int) -> Page[Any]:
    """One page of rows and how many there are in all. The page is chosen by its keys alone (a narrow sort,
    whatever the width of the rows), then its rows are read by key; the count is a second pass, skipped when
    the page itself shows where the list ends."""
    number = max(1, number)
    keys = list(model.__table__.primary_key.columns)
    chosen = session.exec(select(*keys).where(*where).order_by(*order).offset((number - 1) * size).limit(size)).all()
    rows = []
    if chosen:
        found = {
            tuple(getattr(row, key.name) for key in keys): row
            for row in session.exec(select(model).where(tuple_(*keys).in_([tuple(key) for key in chosen])))
        }
        rows = [found[tuple(key)] for key in chosen if tuple(key) in found]
    if 0 < len(chosen) < size or (number == 1 and not chosen):
        return Page(rows, (number - 1) * size + len(chosen), number, size)
    total = int(session.exec(select(func.count()).select_from(model).where(*where)).one())
    return Page(rows, total, number, size)


def _in_org(session: Session, column: Any, org_id: str) -> Any:
    """`column = org_id`, for a scan of an organisation's rows in no useful order of the key's index. SQLite
    would read them through the (org_id, reference) index, one jump into the table per row in reference
    order (ten times slower than reading the table from start to end at 100,000 people, as bench/search.py
    measured); `org_id || ''` makes it read the table in its own order. PostgreSQL plans this well by itself."""
    if session.get_bind().dialect.name == "sqlite":
        return column.concat("") == org_id
    return column == org_id


def participant_page(
    engine: Engine, org_id: str, *, query: str = "", page: int = 1, size: int = PAGE_SIZE
) -> Page[Participant]:
    """The organisation's participants (not erased), newest first, whose name or reference has every word."""
    order = [col(Participant.registered_at).desc(), col(Participant.participant_id)]
    with Session(engine) as session:
        mine = _in_org(session, col(Participant.org_id), org_id)
        where = [mine, col(Participant.erased).is_(False), *_participant_match(query)]
        return _page(session, Participant, where, order, page, size)


def activity_page(
    engine: Engine, org_id: str, *, query: str = "", page: int = 1, size: int = PAGE_SIZE
) -> Page[Activity]:
    """The organisation's activities, newest first, whose title, reference or area has every word."""
    where = [Activity.org_id == org_id, *_activity_match(query)]
    order = [col(Activity.held_on).desc(), col(Activity.activity_id)]
    with Session(engine) as session:
        return _page(session, Activity, where, order, page, size)


def change_page(engine: Engine, org_id: str, *, query: str = "", page: int = 1, size: int = PAGE_SIZE) -> Page[Change]:
    """The organisation's changes, newest first, whose title, reference, status or area has every word."""
    where = [Change.org_id == org_id, *_change_match(query)]
    order = [col(Change.recorded_on).desc(), col(Change.change_id)]
    with Session(engine) as session:
        return _page(session, Change, where, order, page, size)


@dataclass(frozen=True)
class Said:
    """A contribution as a list or picker shows it: what was said, when, and by whom."""

    contribution: Contribution
    people: list[str]


def contribution_page(
    engine: Engine, org_id: str, *, query: str = "", page: int = 1, size: int = PAGE_SIZE
) -> Page[Said]:
    """The organisation's contributions, newest first, whose text, reference, area or people have every word."""
    where = [Contribution.org_id == org_id, *_contribution_match(org_id, query)]
    order = [col(Contribution.made_on).desc(), col(Contribution.contribution_id)]
    with Session(engine) as session:
        found = _page(session, Contribution, where, order, page, size)
        return Page(_with_people(session, org_id, found.rows), found.total, found.number, found.size)


# --- Pickers -------------------------------------------------------------------------------------------


def participants(
    engine: Engine,
    org_id: str,
    *,
    query: str = "",
    including: Iterable[str] = (),
    limit: int = PICKER_LIMIT + 1,
) -> list[Participant]:
    """Participants (not erased) to pick from, in name order: those whose name or reference has every word of
    `query` (all of them if it is empty), at most `limit`; then any of `including` (already chosen) not among
    them. The default asks for one more than a picker lists, so it knows when to offer a search."""
    base: list[Any] = [Participant.org_id == org_id, col(Participant.erased).is_(False)]
    with Session(engine) as session:
        mine = _in_org(session, col(Participant.org_id), org_id)
        query_rows = session.exec(
            select(Participant)
            .where(mine, col(Participant.erased).is_(False), *_participant_match(query))
            .order_by(func.lower(col(Participant.display_name)), col(Participant.participant_id))
            .limit(limit)
        ).all()
        found = list(query_rows)
        missing = set(including) - {p.participant_id for p in found}
        if missing:
            extra = session.exec(
                select(Participant).where(*base, col(Participant.participant_id).in_(sorted(missing)))
            ).all()
            found += sorted(extra, key=lambda p: ((p.display_name or "").lower(), p.participant_id))
        return found


def activities(engine: Engine, org_id: str, *, query: str = "", limit: int = LIST_LIMIT) -> list[Activity]:
    with Session(engine) as session:
        rows = session.exec(
            select(Activity)
            .where(Activity.org_id == org_id, *_activity_match(query))
            .order_by(col(Activity.held_on).desc(), col(Activity.activity_id))
            .limit(limit)
        )
        return list(rows.all())


def changes(engine: Engine, org_id: str, *, query: str = "", limit: int = LIST_LIMIT) -> list[Change]:
    with Session(engine) as session:
        rows = session.exec(
            select(Change)
            .where(Change.org_id == org_id, *_change_match(query))
            .order_by(col(Change.recorded_on).desc(), col(Change.change_id))
            .limit(limit)
        )
        return list(rows.all())


def contributions(
    engine: Engine,
    org_id: str,
    *,
    query: str = "",
    including: Iterable[str] = (),
    limit: int = LIST_LIMIT,
) -> list[Said]:
    """Contributions to pick from, newest first: those with every word of `query` (all if it is empty), at
    most `limit`; then any of `including` (already chosen) not among them."""
    with Session(engine) as session:
        rows = list(
            session.exec(
                select(Contribution)
                .where(Contribution.org_id == org_id, *_contribution_match(org_id, query))
                .order_by(col(Contribution.made_on).desc(), col(Contribution.contribution_id))
                .limit(limit)
            ).all()
        )
        missing = set(including) - {row.contribution_id for row in rows}
        if missing:
            rows += session.exec(
                select(Contribution)
                .where(Contribution.org_id == org_id, col(Contribution.contribution_id).in_(sorted(missing)))
                .order_by(col(Contribution.made_on).desc(), col(Contribution.contribution_id))
            ).all()
        return _with_people(session, org_id, rows)


def _with_people(session: Session, org_id: str, rows: list[Contribution]) -> list[Said]:
    """Who said each contribution, by name ("(erased)" for someone erased), for these rows only."""
    names: dict[str, list[str]] = {}
    ids = [row.contribution_id for row in rows]
    for start in range(0, len(ids), 500):  # a bounded IN list per query, whatever the picker's size
        for link, name, erased in session.exec(
            select(ContributionParticipant, Participant.display_name, Participant.erased)
            .join(
                Participant,
                (col(Participant.org_id) == col(ContributionParticipant.org_id))
                & (col(Participant.participant_id) == col(ContributionParticipant.participant_id)),
            )
            .where(
                ContributionParticipant.org_id == org_id,
                col(ContributionParticipant.contribution_id).in_(ids[start : start + 500]),
            )
        ).all():
            shown = "(erased)" if erased else (name or link.participant_id)
            names.setdefault(link.contribution_id, []).append(shown)
    return [Said(row, sorted(names.get(row.contribution_id, []))) for row in rows]


def participant_or_404(engine: Engine, org_id: str, participant_id: str) -> Participant:
    with Session(engine) as session:
        found = session.get(Participant, (org_id, participant_id))
    if found is None or found.erased:
        abort(404)
    return found


def activity_or_none(engine: Engine, org_id: str, activity_id: str) -> Activity | None:
    with Session(engine) as session:
        return session.get(Activity, (org_id, activity_id))


def activity_or_404(engine: Engine, org_id: str, activity_id: str) -> Activity:
    found = activity_or_none(engine, org_id, activity_id)
    if found is None:
        abort(404)
    return found


def change_or_404(engine: Engine, org_id: str, change_id: str) -> Change:
    with Session(engine) as session:
        found = session.get(Change, (org_id, change_id))
    if found is None:
        abort(404)
    return found


def attendees(engine: Engine, org_id: str, activity_id: str) -> list[tuple[Attendance, str]]:
    """Who attended an activity (with their names), in name order."""
    with Session(engine) as session:
        rows = session.exec(
            select(Attendance, Participant.display_name, Participant.erased)
            .join(
                Participant,
                (col(Participant.org_id) == col(Attendance.org_id))
                & (col(Participant.participant_id) == col(Attendance.participant_id)),
            )
            .where(Attendance.org_id == org_id, Attendance.activity_id == activity_id)
        ).all()
    shown = [(row, "(erased)" if erased else (name or row.participant_id)) for row, name, erased in rows]
    return sorted(shown, key=lambda item: item[1].lower())


def links(engine: Engine, org_id: str, change_id: str) -> list[tuple[ChangeLink, Contribution | None]]:
    """The contributions linked to a change, with what was said."""
    with Session(engine) as session:
        rows = session.exec(
            select(ChangeLink).where(ChangeLink.org_id == org_id, ChangeLink.change_id == change_id)
        ).all()
        return [(row, session.get(Contribution, (org_id, row.contribution_id))) for row in rows]
