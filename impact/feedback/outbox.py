"""The feedback outbox: one row for each participant owed word of one decided change, and where it is.

The feedback sender (processors/feedback.py) finds what is owed in the read models and adds a row here;
from then on this table, not the read models, decides what happens, so nothing goes twice. Every move
between states is a function of this module (named on the arrows); nothing else updates the table:

             add
              │
    queued ──claim──> sending ──mark_sent──> sent  (e-mail; `feedback.sent` then goes into the log)
      │  ^              │  │
      │  │              │  ├──release──> queued   (the read models could not be read: next tick)
      │  │              │  └──fail_or_retry──> queued (after a doubling wait) or failed (staff look)
      │  │              └──expire_claims──> unsure (the sender stopped mid-send: staff decide)
      │  └──requeue── failed, unsure           (staff try again, from the first try)
      ├──reroute──> letter  (post: staff print a batch (mark_printed), then mark it posted) ──close──> sent
      ├──reroute──> staff   (phone, in person or no channel: staff tell them)            ──close──> given
      └──stop───> stopped  (consent withdrawn, details erased, the decision reopened, or the person no longer
                            linked to the change; reroute back when that is undone)
    sending ──drop_unlinked──> stopped  (claimed, then found no longer linked: it leaves the message)
    any open row ──close_told──> sent  (a `feedback.sent` from elsewhere told them)

A claim is a compare-and-set on `state`, and so is every other move: two senders, or a sender and a
member of staff, never both act on one row. A sender that dies between claiming and hearing back from
the mail server leaves the row `sending`; after a while it becomes `unsure`, and staff decide (the mail
may have gone).

Not a read model: a replay of the log keeps it (and the `feedback.sent` events rebuild `feedback`).
"""

from __future__ import annotations

import uuid
from collections.abc import Sequence
from datetime import UTC, date, datetime, timedelta
from enum import StrEnum
from typing import Any, cast

from sqlalchemy import Connection, Engine, Index, Table, and_, exists, select, update
from sqlalchemy.dialects import postgresql, sqlite
from sqlmodel import Field, SQLModel

from impact.eventlog import EventLog
from impact.eventlog.recording import record as record_events
from schemas.events import FeedbackSent, FeedbackSentEvent
from schemas.readmodels import Change, ChangeLink, ContributionParticipant, Participant
from schemas.vocab import DECIDED_STATUSES, Channel


class State(StrEnum):
    queued = "queued"  # an e-mail waiting for its moment (now, a retry's wait, or the digest day)
    sending = "sending"  # claimed by a sender
    unsure = "unsure"  # the sender stopped while sending: it may have gone
    failed = "failed"  # every try failed, or the address was refused: staff look
    letter = "letter"  # to go in the next batch of printed letters
    staff = "staff"  # staff tell the person themselves (phone, in person, or no channel chosen)
    stopped = "stopped"  # consent withdrawn, details erased, decision reopened, or no longer linked (last_error says)
    sent = "sent"  # e-mailed or posted, and `feedback.sent` recorded (or recorded by someone else)
    given = "given"  # staff told the person (in person or by phone)


PRINTED = "(printed)"  # `done_by` of a letter printed and not yet marked posted
OPEN = frozenset({State.queued, State.failed, State.letter, State.staff, State.stopped, State.unsure})
CLOSED = frozenset({State.sent, State.given})


class FeedbackItem(SQLModel, table=True):
    """One participant owed word of one decided change."""

    __tablename__ = "feedback_item"
    __table_args__ = (Index("ix_feedback_item_state_due", "state", "due_at"),)

    org_id: str = Field(primary_key=True, max_length=40)
    participant_id: str = Field(primary_key=True, max_length=64)
    change_id: str = Field(primary_key=True, max_length=64)
    decided_on: date
    state: str = Field(max_length=10)
    channel: str | None = Field(default=None, max_length=20)  # how it went, or is to go
    found_at: datetime  # when the sender found it owed
    due_at: datetime  # when an e-mail may next be tried (the digest day for monthly readers)
    attempts: int = 0
    last_error: str | None = Field(default=None, max_length=500)
    message_id: str | None = Field(default=None, max_length=36)  # the message carrying it (= the event_id)
    claimed_at: datetime | None = None
    sent_at: datetime | None = None
    recorded: bool = False  # its `feedback.sent` is in the log
    done_by: str | None = Field(default=None, max_length=120)  # who marked it given or posted


ITEMS = cast(Table, FeedbackItem.__table__)  # type: ignore[attr-defined]
_PEOPLE = cast(Table, Participant.__table__)  # type: ignore[attr-defined]
_CHANGES = cast(Table, Change.__table__)  # type: ignore[attr-defined]
_LINKS = cast(Table, ChangeLink.__table__)  # type: ignore[attr-defined]
_SAID = cast(Table, ContributionParticipant.__table__)  # type: ignore[attr-defined]
STALE = "the sender stopped while sending: this message may have gone"
UNLINKED = "no longer linked to this change (a correction removed the link); it goes if they are linked again"


def aware(moment: datetime) -> datetime:
    """A datetime read back from the database, as UTC (SQLite returns them naive)."""
    return moment if moment.tzinfo else moment.replace(tzinfo=UTC)


def feedback_event(
    *, message_id: str, org_id: str, participant_id: str, change_ids: Sequence[str], channel: str, sent_at: datetime
) -> FeedbackSentEvent:
    """The `feedback.sent` for one message. Built from the outbox alone, so a retry of its append is the same
    event (same id, same content) and the log, the receipts and the processor each take it once."""
    return FeedbackSentEvent(
        event_id=uuid.UUID(message_id),
        org_id=org_id,
        occurred_at=aware(sent_at),
        type="feedback.sent",
        payload=FeedbackSent(participant_id=participant_id, change_ids=sorted(change_ids), channel=Channel(channel)),
    )


def add(conn: Connection, rows: Sequence[dict[str, Any]]) -> None:
    """Add owed items; an item already there (in any state) is left as it is."""
    if rows:
        insert = postgresql.insert if conn.dialect.name == "postgresql" else sqlite.insert
        conn.execute(insert(ITEMS).on_conflict_do_nothing(), list(rows))


def _mine(org_id: str, participant_id: str, change_ids: Sequence[str]) -> Any:
    return and_(
        ITEMS.c.org_id == org_id, ITEMS.c.participant_id == participant_id, ITEMS.c.change_id.in_(list(change_ids))
    )


def close(
    conn: Connection,
    *,
    org_id: str,
    participant_id: str,
    change_ids: Sequence[str],
    state: State,
    channel: str,
    by: str | None,
    now: datetime,
    from_states: frozenset[State] = OPEN,
) -> tuple[str, list[str]]:
    """Close the items still in `from_states` as one message; returns its id and the changes it closed.

    A compare-and-set: an item a sender has claimed meanwhile, or already closed, is not closed again.
    """
    message_id = str(uuid.uuid4())
    allowed = [s.value for s in from_states]
    closed = conn.execute(
        update(ITEMS)
        .where(_mine(org_id, participant_id, change_ids), ITEMS.c.state.in_(allowed))
        .values(state=state.value, channel=channel, message_id=message_id, sent_at=now, done_by=by, recorded=False)
        .returning(ITEMS.c.change_id)  # exactly the rows this update changed, whatever ran meanwhile
    ).scalars()
    return message_id, sorted(closed)


def mark_printed(
    conn: Connection, *, org_id: str, participant_id: str, change_ids: Sequence[str], batch_id: str | None = None
) -> None:
    """A letter about these rows was printed: they stay letters (the sender no longer reroutes them to e-mail
    if the person changes channel) until staff mark them posted, or consent is withdrawn.

    `batch_id` names the printed batch (kept in `message_id` until the letter is posted, when `close` gives it
    the id of its `feedback.sent`), so the batch's page can be opened again and shows the same letters."""
    values: dict[str, Any] = {"done_by": PRINTED}
    if batch_id is not None:
        values["message_id"] = batch_id
    conn.execute(
        update(ITEMS)
        .where(_mine(org_id, participant_id, change_ids), ITEMS.c.state == State.letter.value)
        .values(**values)
    )


def printed_batch(conn: Connection, *, org_id: str, batch_id: str) -> dict[str, list[str]]:
    """The letters of a printed batch that still wait to be posted: change ids by participant."""
    rows = conn.execute(
        select(ITEMS.c.participant_id, ITEMS.c.change_id).where(
            ITEMS.c.org_id == org_id,
            ITEMS.c.message_id == batch_id,
            ITEMS.c.state == State.letter.value,
            ITEMS.c.done_by == PRINTED,
        )
    )
    found: dict[str, list[str]] = {}
    for participant_id, change_id in rows:
        found.setdefault(participant_id, []).append(change_id)
    return found


def requeue(conn: Connection, *, org_id: str, participant_id: str, change_ids: Sequence[str], now: datetime) -> int:
    """Staff ask for failed or unsure e-mails to be tried again, from the first try."""
    return int(
        conn.execute(
            update(ITEMS)
            .where(
                _mine(org_id, participant_id, change_ids),
                ITEMS.c.state.in_([State.failed.value, State.unsure.value]),
            )
            .values(state=State.queued.value, attempts=0, due_at=now, last_error=None, claimed_at=None)
        ).rowcount
    )


def _this(row: Any) -> Any:
    """One row, only while it is still in the state it was read in (a compare-and-set)."""
    return and_(
        ITEMS.c.org_id == row.org_id,
        ITEMS.c.participant_id == row.participant_id,
        ITEMS.c.change_id == row.change_id,
        ITEMS.c.state == row.state,
    )


def close_told(conn: Connection, row: Any, *, now: datetime) -> None:
    """An open row whose pair was told some other way (its `feedback.sent` is already in the log)."""
    conn.execute(update(ITEMS).where(_this(row)).values(state=State.sent.value, recorded=True, sent_at=now))


def stop(conn: Connection, row: Any, *, reason: str | None = None) -> None:
    """Consent withdrawn, details erased, the decision reopened, or the person no longer linked to the change;
    `reason` (a fixed text for staff, never personal data) says why when consent does not. A stopped row may be
    stopped again to change its reason."""
    conn.execute(update(ITEMS).where(_this(row)).values(state=State.stopped.value, last_error=reason))


def reroute(conn: Connection, row: Any, *, to: State, channel: str | None, due_at: datetime | None = None) -> None:
    """The person's channel (or consent) now sends this row elsewhere; an e-mail starts again from the
    first try, at `due_at`."""
    values: dict[str, Any] = {"state": to.value, "channel": channel}
    if to == State.queued:
        values.update(due_at=due_at, attempts=0, last_error=None)
    conn.execute(update(ITEMS).where(_this(row)).values(**values))


def reschedule(conn: Connection, row: Any, *, due_at: datetime) -> None:
    """A queued row waiting for a digest day whose reader changed how often they hear."""
    conn.execute(update(ITEMS).where(_this(row)).values(due_at=due_at))


def expire_claims(conn: Connection, *, older_than: datetime) -> None:
    """Claims made before `older_than` belong to a sender that stopped mid-send: they may have gone."""
    conn.execute(
        update(ITEMS)
        .where(ITEMS.c.state == State.sending.value, ITEMS.c.claimed_at < older_than)
        .values(state=State.unsure.value, last_error=STALE)
    )


def claim(conn: Connection, *, org_id: str, participant_id: str, change_ids: Sequence[str]) -> tuple[str, list[str]]:
    """Claim these queued rows for one message, only while the person still consents to e-mail, the change is
    still decided (a decision can be reopened) and the person is still linked to it (links can be corrected);
    returns the message id and the changes claimed."""
    message_id = str(uuid.uuid4())
    p, ch = _PEOPLE.c, _CHANGES.c
    consenting = exists(
        select(p.participant_id).where(
            p.org_id == org_id,
            p.participant_id == participant_id,
            p.consent_to_contact.is_(True),
            p.erased.is_(False),
            p.preferred_channel == Channel.email.value,
            p.email.is_not(None),
        )
    )
    still_decided = exists(
        select(ch.change_id).where(
            ch.org_id == ITEMS.c.org_id,
            ch.change_id == ITEMS.c.change_id,
            ch.status.in_(sorted(s.value for s in DECIDED_STATUSES)),
            ch.decided_on.is_not(None),
        )
    )
    link, said = _LINKS.c, _SAID.c
    still_linked = exists(
        select(link.change_id)
        .select_from(_LINKS.join(_SAID, and_(said.org_id == link.org_id, said.contribution_id == link.contribution_id)))
        .where(
            link.org_id == ITEMS.c.org_id,
            link.change_id == ITEMS.c.change_id,
            said.participant_id == ITEMS.c.participant_id,
        )
    )
    conn.execute(
        update(ITEMS)
        .where(
            _mine(org_id, participant_id, change_ids),
            ITEMS.c.state == State.queued.value,
            consenting,
            still_decided,
            still_linked,
        )
        # the real time, not the tick's: another sender judges a claim stale by it
        .values(state=State.sending.value, message_id=message_id, claimed_at=datetime.now(UTC))
    )
    claimed = conn.execute(
        select(ITEMS.c.change_id).where(ITEMS.c.message_id == message_id, ITEMS.c.state == State.sending.value)
    ).scalars()
    return message_id, sorted(claimed)


def _claimed(message_id: str) -> Any:
    return and_(ITEMS.c.message_id == message_id, ITEMS.c.state == State.sending.value)


def drop_unlinked(conn: Connection, *, message_id: str, change_ids: Sequence[str]) -> None:
    """Claimed changes the person is no longer linked to leave the message, stopped (`UNLINKED`), untried."""
    if change_ids:
        conn.execute(
            update(ITEMS)
            .where(_claimed(message_id), ITEMS.c.change_id.in_(list(change_ids)))
            .values(state=State.stopped.value, message_id=None, claimed_at=None, last_error=UNLINKED)
        )


def mark_sent(conn: Connection, *, message_id: str, now: datetime) -> None:
    """The message went: sent, even if another sender meanwhile judged the claim stale and marked it unsure."""
    conn.execute(
        update(ITEMS)
        .where(ITEMS.c.message_id == message_id, ITEMS.c.state.in_([State.sending.value, State.unsure.value]))
        .values(
            state=State.sent.value,
            channel=Channel.email.value,
            sent_at=now,
            attempts=ITEMS.c.attempts + 1,
            last_error=None,
        )
    )


def release(conn: Connection, *, message_id: str) -> None:
    """Put a claimed message back, untried (what it needed could not be read): the next tick claims it again."""
    conn.execute(update(ITEMS).where(_claimed(message_id)).values(state=State.queued.value, claimed_at=None))


def fail_or_retry(
    conn: Connection,
    *,
    message_id: str,
    reason: str,
    permanent: bool,
    max_attempts: int,
    retry_seconds: float,
    now: datetime,
) -> tuple[State, int]:
    """A claimed message failed: back to queued after a doubling wait, or, when the failure is permanent
    or the tries are used up, failed (staff look). Returns where it went and how many tries it has had."""
    mine = _claimed(message_id)
    rows = conn.execute(select(ITEMS.c.attempts).where(mine)).scalars().all()
    attempts = (max(rows) if rows else 0) + 1
    if permanent or attempts >= max_attempts:
        state, values = State.failed, {}
    else:
        wait = retry_seconds * 2 ** (attempts - 1)
        state, values = State.queued, {"due_at": now + timedelta(seconds=wait)}
    conn.execute(
        update(ITEMS)
        .where(mine)
        .values(state=state.value, **values, attempts=attempts, last_error=reason[:500], claimed_at=None)
    )
    return state, attempts


def unrecorded(conn: Connection, *, org_id: str | None = None) -> list[FeedbackSentEvent]:
    """The `feedback.sent` events of closed items not yet in the log, one per message."""
    query = select(ITEMS).where(
        ITEMS.c.state.in_([s.value for s in CLOSED]), ITEMS.c.recorded.is_(False), ITEMS.c.message_id.is_not(None)
    )
    if org_id is not None:
        query = query.where(ITEMS.c.org_id == org_id)
    messages: dict[str, list[Any]] = {}
    for row in conn.execute(query):
        messages.setdefault(row.message_id, []).append(row)
    return [
        feedback_event(
            message_id=message_id,
            org_id=rows[0].org_id,
            participant_id=rows[0].participant_id,
            change_ids=[r.change_id for r in rows],
            channel=rows[0].channel or Channel.in_person.value,
            sent_at=rows[0].sent_at,
        )
        for message_id, rows in messages.items()
    ]


def record(engine: Engine, event_log: EventLog, topic: str, *, org_id: str | None = None) -> int:
    """Append every closed item's `feedback.sent` not yet in the log; returns how many messages were recorded.

    Raises LogUnavailable when the log is down: the items stay unrecorded and the next call appends them.
    """
    with engine.connect() as conn:
        events = unrecorded(conn, org_id=org_id)
    if not events:
        return 0
    record_events(event_log, topic, events, recorded_by="feedback", engine=engine)
    with engine.begin() as conn:
        ids = [str(e.event_id) for e in events]
        conn.execute(update(ITEMS).where(ITEMS.c.message_id.in_(ids)).values(recorded=True))
    return len(events)
