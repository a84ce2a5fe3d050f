"""The outbox's moves, one at a time (impact.feedback.outbox), on a real database: each goes from the
states its diagram shows, and none acts on a row that moved since it was read (a compare-and-set).

The sender's tests (test_feedback_*.py) drive the same moves end to end; these name each one.
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import UTC, date, datetime, timedelta
from typing import Any

import pytest
from sqlalchemy import Connection, Engine, select, update
from sqlmodel import Session

from impact.feedback import outbox
from impact.feedback.outbox import ITEMS, State
from schemas.readmodels import Change, ChangeLink, ContributionParticipant, Participant

pytestmark = pytest.mark.twins  # compare-and-set updates and EXISTS sub-queries: SQLite and PostgreSQL

ORG, PID, CID = "org-a", "p-1", "ch-1"
NOW = datetime(2026, 11, 14, 12, tzinfo=UTC)
LATER = NOW + timedelta(days=3)


def add(engine: Engine, state: State, **values: Any) -> None:
    row = {
        "org_id": ORG,
        "participant_id": PID,
        "change_id": CID,
        "decided_on": date(2026, 11, 1),
        "state": state.value,
        "channel": "email",
        "found_at": NOW,
        "due_at": NOW,
        "attempts": 0,
        "recorded": False,
    }
    with engine.begin() as conn:
        outbox.add(conn, [row | values])


def read(conn: Connection) -> Any:
    return conn.execute(select(ITEMS)).one()


def moved(engine: Engine, move: Callable[[Connection, Any], Any]) -> Any:
    with engine.begin() as conn:
        move(conn, read(conn))
    with engine.connect() as conn:
        return read(conn)


Move = Callable[[Connection, Any], Any]
CASES: list[Any] = [
    pytest.param(State.queued, {}, lambda c, r: outbox.stop(c, r), {"state": "stopped"}, id="stop"),
    pytest.param(
        State.failed, {"last_error": "refused"}, lambda c, r: outbox.stop(c, r), {"last_error": None}, id="stop-clears"
    ),
    pytest.param(
        State.letter,
        {},
        lambda c, r: outbox.stop(c, r, reason=outbox.UNLINKED),
        {"state": "stopped", "last_error": outbox.UNLINKED},
        id="stop-unlinked-says-why",
    ),
    pytest.param(
        State.stopped,
        {},
        lambda c, r: outbox.stop(c, r, reason=outbox.UNLINKED),
        {"state": "stopped", "last_error": outbox.UNLINKED},
        id="stopped-again-for-another-reason",
    ),
    pytest.param(
        State.sending,
        {"message_id": "m-1", "claimed_at": NOW},
        lambda c, r: outbox.drop_unlinked(c, message_id="m-1", change_ids=[CID]),
        {"state": "stopped", "message_id": None, "claimed_at": None, "attempts": 0, "last_error": outbox.UNLINKED},
        id="unlinked-leaves-the-message",
    ),
    pytest.param(
        State.sending,
        {"message_id": "m-1", "claimed_at": NOW},
        lambda c, r: outbox.drop_unlinked(c, message_id="m-1", change_ids=["ch-other"]),
        {"state": "sending", "message_id": "m-1"},
        id="linked-stays-in-the-message",
    ),
    pytest.param(
        State.queued,
        {},
        lambda c, r: outbox.reroute(c, r, to=State.letter, channel="post"),
        {"state": "letter", "channel": "post"},
        id="reroute-to-post",
    ),
    pytest.param(
        State.stopped,
        {"attempts": 2, "last_error": "busy"},
        lambda c, r: outbox.reroute(c, r, to=State.queued, channel="email", due_at=LATER),
        {"state": "queued", "attempts": 0, "last_error": None, "due_at": LATER},
        id="consent-returns",
    ),
    pytest.param(
        State.staff,
        {},
        lambda c, r: outbox.close_told(c, r, now=LATER),
        {"state": "sent", "recorded": True, "sent_at": LATER},
        id="told-elsewhere",
    ),
    pytest.param(
        State.queued, {}, lambda c, r: outbox.reschedule(c, r, due_at=LATER), {"due_at": LATER}, id="reschedule"
    ),
    pytest.param(
        State.sending,
        {"message_id": "m-1", "claimed_at": NOW - timedelta(hours=1)},
        lambda c, r: outbox.expire_claims(c, older_than=NOW),
        {"state": "unsure", "last_error": outbox.STALE},
        id="stale-claim",
    ),
    pytest.param(
        State.sending,
        {"message_id": "m-1", "claimed_at": NOW},
        lambda c, r: outbox.expire_claims(c, older_than=NOW - timedelta(minutes=10)),
        {"state": "sending"},
        id="fresh-claim-kept",
    ),
    pytest.param(
        State.sending,
        {"message_id": "m-1", "claimed_at": NOW},
        lambda c, r: outbox.release(c, message_id="m-1"),
        {"state": "queued", "claimed_at": None, "attempts": 0},
        id="release",
    ),
    pytest.param(
        State.unsure,
        {"message_id": "m-1", "attempts": 1},
        lambda c, r: outbox.mark_sent(c, message_id="m-1", now=LATER),
        {"state": "sent", "channel": "email", "attempts": 2, "sent_at": LATER},
        id="sent-though-judged-stale",
    ),
    pytest.param(
        State.sending,
        {"message_id": "m-1"},
        lambda c, r: outbox.fail_or_retry(
            c, message_id="m-1", reason="busy", permanent=False, max_attempts=3, retry_seconds=60, now=NOW
        ),
        {"state": "queued", "attempts": 1, "last_error": "busy", "due_at": NOW + timedelta(seconds=60)},
        id="retry-after-a-wait",
    ),
    pytest.param(
        State.sending,
        {"message_id": "m-1", "attempts": 1},
        lambda c, r: outbox.fail_or_retry(
            c, message_id="m-1", reason="busy", permanent=False, max_attempts=3, retry_seconds=60, now=NOW
        ),
        {"state": "queued", "attempts": 2, "due_at": NOW + timedelta(seconds=120)},
        id="the-wait-doubles",
    ),
    pytest.param(
        State.sending,
        {"message_id": "m-1", "attempts": 2},
        lambda c, r: outbox.fail_or_retry(
            c, message_id="m-1", reason="busy", permanent=False, max_attempts=3, retry_seconds=60, now=NOW
        ),
        {"state": "failed", "attempts": 3},
        id="tries-used-up",
    ),
    pytest.param(
        State.sending,
        {"message_id": "m-1"},
        lambda c, r: outbox.fail_or_retry(
            c, message_id="m-1", reason="no such mailbox", permanent=True, max_attempts=3, retry_seconds=60, now=NOW
        ),
        {"state": "failed", "attempts": 1, "last_error": "no such mailbox"},
        id="refused-at-once",
    ),
]


def aware(value: Any) -> Any:
    return outbox.aware(value) if isinstance(value, datetime) else value


@pytest.mark.parametrize(("start", "values", "move", "expected"), CASES)
def test_each_move(engine: Engine, start: State, values: dict[str, Any], move: Move, expected: dict[str, Any]) -> None:
    add(engine, start, **values)
    after = moved(engine, move)
    assert {name: aware(getattr(after, name)) for name in expected} == expected


STALE_MOVES: list[Any] = [
    pytest.param(lambda c, r: outbox.stop(c, r), id="stop"),
    pytest.param(lambda c, r: outbox.reroute(c, r, to=State.letter, channel="post"), id="reroute"),
    pytest.param(lambda c, r: outbox.close_told(c, r, now=LATER), id="told-elsewhere"),
    pytest.param(lambda c, r: outbox.reschedule(c, r, due_at=LATER), id="reschedule"),
]


@pytest.mark.parametrize("move", STALE_MOVES)
def test_a_row_that_moved_since_it_was_read_is_left_alone(engine: Engine, move: Move) -> None:
    add(engine, State.queued)
    with engine.begin() as conn:
        seen = read(conn)  # queued, as the sender read it...
        conn.execute(update(ITEMS).values(state=State.sending.value, message_id="m-1"))  # ...then claimed
        move(conn, seen)
        after = read(conn)
    assert (after.state, aware(after.due_at), after.sent_at) == ("sending", NOW, None)


def people(
    engine: Engine, *, consent: bool = True, channel: str = "email", status: str = "agreed", linked: bool = True
) -> None:
    with Session(engine) as session:
        session.add(
            Participant(
                org_id=ORG,
                participant_id=PID,
                role="carer",
                email="p1@example.org",
                consent_to_contact=consent,
                preferred_channel=channel,
                registered_at=NOW,
            )
        )
        decided = date(2026, 11, 1) if status == "agreed" else None
        session.add(
            Change(
                org_id=ORG,
                change_id=CID,
                area="research",
                title="Agendas",
                description="Earlier agendas.",
                status=status,
                recorded_on=date(2026, 10, 1),
                decided_on=decided,
            )
        )
        # the person's contribution, linked to the change (or, once a correction unlinked it, not)
        session.add(ContributionParticipant(org_id=ORG, contribution_id="c-1", participant_id=PID))
        if linked:
            session.add(ChangeLink(org_id=ORG, change_id=CID, contribution_id="c-1", strength="major"))
        session.commit()


@pytest.mark.parametrize(
    ("state", "who", "claimed"),
    [
        (State.queued, {}, [CID]),
        (State.letter, {}, []),
        (State.queued, {"consent": False}, []),
        (State.queued, {"channel": "post"}, []),
        (State.queued, {"status": "proposed"}, []),
        (State.queued, {"linked": False}, []),
    ],
    ids=["queued", "not-an-e-mail", "no-consent", "wants-post", "decision-reopened", "no-longer-linked"],
)
def test_a_claim_takes_only_queued_e_mails_to_consenting_people_about_decided_changes(
    engine: Engine, state: State, who: dict[str, Any], claimed: list[str]
) -> None:
    people(engine, **who)
    add(engine, state)
    with engine.begin() as conn:
        message_id, got = outbox.claim(conn, org_id=ORG, participant_id=PID, change_ids=[CID])
        again = outbox.claim(conn, org_id=ORG, participant_id=PID, change_ids=[CID])[1]
        after = read(conn)
    assert got == claimed
    assert again == [], "a claimed row is never claimed twice"
    assert (after.state, after.message_id) == (("sending", message_id) if claimed else (state.value, None))
