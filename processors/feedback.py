"""The feedback sender: finds who is owed word of a decided change, tells them, and records `feedback.sent`.

Each tick, once the read models have caught up with the log as it stood when the sender started (so a
rebuilt database has folded every earlier `feedback.sent` before anything is judged owed):
1. plan: every owed pair (impact.outcomes.owed) gets a row in the outbox (impact.outbox), at most once
   ever; open rows follow the person's consent and channel (withdrawn consent stops them at once);
2. deliver: due e-mails are claimed (compare-and-set), composed (impact.summaries), given a private link
   (impact.links) and sent; a failure waits and retries with a doubling wait, then asks staff to look;
3. record: every closed row's `feedback.sent` goes into the log (the same event on every retry).

Never twice: a row is created once and claimed once, across restarts, replays (the outbox is not a read
model) and several senders. The one gap is a sender killed between the mail server taking a message
and the row being marked sent: that row becomes `unsure`, and staff decide.
"""

from __future__ import annotations

import logging
import threading
import time
import uuid
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from datetime import time as clock
from email.message import EmailMessage
from email.utils import formataddr, parseaddr
from typing import Any

from sqlalchemy import Engine, and_, exists, select, update
from sqlalchemy.exc import SQLAlchemyError

from impact import links, outbox, outcomes, summaries
from impact.eventlog import EventLog, LogUnavailable
from impact.months import add_months, first_of_month
from impact.outbox import ITEMS, State, aware
from impact.settings import Settings
from processors.mail import Mailer, MailFailed, mailer_for
from processors.store import ReadModelStore
from schemas.vocab import Channel, Frequency

log = logging.getLogger(__name__)
STALE_CLAIM = timedelta(minutes=10)  # a claim older than this belongs to a sender that stopped mid-send
DIGEST_HOUR = clock(9, 0, tzinfo=UTC)  # monthly digests go on the first of the month from 09:00 UTC
MESSAGES_PER_TICK = 100
REPLAN_S = 60.0
NO_MAILER = "e-mail is not set up (IMPACT_SMTP_HOST): e-mails wait until it is"
P = outcomes.P


def digest_day(moment: datetime) -> datetime:
    """The first of the next month, 09:00 UTC: when a monthly reader's digest goes."""
    return datetime.combine(add_months(first_of_month(moment.date()), 1), DIGEST_HOUR)


def routed(person: outcomes.Person) -> State:
    """Where an owed item goes for this person now."""
    if not person.consent or person.erased:
        return State.stopped
    if person.channel == Channel.email and person.email:
        return State.queued
    if person.channel == Channel.post and person.postal_address:
        return State.letter
    return State.staff  # phone, in person, or no channel chosen: staff tell them


def _due(person: outcomes.Person, found_at: datetime) -> datetime:
    return digest_day(found_at) if person.frequency == Frequency.monthly else found_at


@dataclass
class Tick:
    """What one tick did (logged, and read by tests)."""

    planned: int = 0
    sent: int = 0
    retrying: int = 0
    failed: int = 0
    recorded: int = 0
    errors: list[str] = field(default_factory=list)


class FeedbackSender:
    def __init__(
        self,
        *,
        engine: Engine,
        event_log: EventLog,
        settings: Settings,
        mailer: Mailer | None,
        group: str | None = None,
    ) -> None:
        self.engine, self.event_log, self.settings, self.mailer = engine, event_log, settings, mailer
        self.topic = settings.topic
        self.store = ReadModelStore(engine, group or settings.consumer_group, settings.topic)
        self._log_end_at_start: dict[int, int] | None = None
        self.last_error: str | None = None
        self._planned_at_positions: dict[int, int] | None = None
        self._planned_at = 0.0

    @classmethod
    def for_settings(cls, settings: Settings, *, engine: Engine, event_log: EventLog) -> FeedbackSender:
        return cls(engine=engine, event_log=event_log, settings=settings, mailer=mailer_for(settings))

    def ready(self) -> bool:
        """Whether the read models hold everything the log held when this sender started."""
        if self._log_end_at_start is None:
            self._log_end_at_start = self.event_log.end_positions(self.topic)
        stored = self.store.positions(list(self._log_end_at_start))
        return all(stored.get(p, 0) >= end for p, end in self._log_end_at_start.items())

    def tick(self, now: datetime | None = None) -> Tick:
        now = now or datetime.now(UTC)
        done = Tick()
        if not self.ready():
            return done
        self._expire_claims(now)
        # Plan when the read models have moved on, and at least every minute (consent may change the outbox).
        positions = self.store.positions(list(self._log_end_at_start or {0: 0}))
        if positions != self._planned_at_positions or time.monotonic() - self._planned_at > REPLAN_S:
            done.planned = self.plan(now)
            self._planned_at_positions, self._planned_at = positions, time.monotonic()
        self.deliver(now, done)
        try:
            done.recorded = outbox.record(self.engine, self.event_log, self.topic)
        except LogUnavailable as exc:  # the rows stay unrecorded: the next tick appends them
            done.errors.append(f"feedback.sent not recorded yet: {exc}")
        return done

    # 1. plan --------------------------------------------------------------------------------------
    def plan(self, now: datetime) -> int:
        """Add a row for each newly owed pair, and move open rows where consent and channel now send them."""
        with self.engine.begin() as conn:
            owed = outcomes.owed(conn, new_only=True)
            rows = []
            for item in owed:
                state = routed(item.person)
                rows.append(
                    {
                        "org_id": item.person.org_id,
                        "participant_id": item.person.participant_id,
                        "change_id": item.change_id,
                        "decided_on": item.decided_on,
                        "state": state.value,
                        "channel": item.person.channel,
                        "found_at": now,
                        "due_at": _due(item.person, now),
                        "attempts": 0,
                        "recorded": False,
                    }
                )
            outbox.add(conn, rows)  # a row another sender added meanwhile is kept as it is
            self._follow_people(conn, now)
        return len(rows)

    def _follow_people(self, conn: Any, now: datetime) -> None:
        """Open rows follow their person: consent withdrawn or erased stops them, a new channel reroutes them,
        and a pair told some other way (a `feedback.sent` from elsewhere) is closed."""
        movable = [State.queued, State.letter, State.staff, State.stopped, State.failed, State.unsure]
        rows = conn.execute(select(ITEMS).where(ITEMS.c.state.in_([s.value for s in movable]))).all()
        if not rows:
            return
        told = outcomes.told(conn, [(r.org_id, r.participant_id, r.change_id) for r in rows])
        by_org: dict[str, set[str]] = {}
        for row in rows:
            by_org.setdefault(row.org_id, set()).add(row.participant_id)
        people = {(org, pid): p for org, pids in by_org.items() for pid, p in outcomes.people(conn, org, pids).items()}
        for row in rows:
            key = and_(
                ITEMS.c.org_id == row.org_id,
                ITEMS.c.participant_id == row.participant_id,
                ITEMS.c.change_id == row.change_id,
                ITEMS.c.state == row.state,
            )
            if (row.org_id, row.participant_id, row.change_id) in told:
                conn.execute(update(ITEMS).where(key).values(state=State.sent.value, recorded=True, sent_at=now))
                continue
            person = people.get((row.org_id, row.participant_id))
            if person is None:
                continue
            target = routed(person)
            current = State(row.state)
            if current in (State.failed, State.unsure) and target == State.queued:
                continue  # staff decide about these
            values: dict[str, Any] = {}
            if target != current:
                values.update(state=target.value, channel=person.channel)
                if target == State.queued:
                    values.update(due_at=_due(person, now), attempts=0, last_error=None)
            elif target == State.queued and row.attempts == 0:
                due = _due(person, aware(row.found_at))  # the frequency may have changed
                if aware(row.due_at) != due:
                    values["due_at"] = due
            if values:
                conn.execute(update(ITEMS).where(key).values(**values))

    def _expire_claims(self, now: datetime) -> None:
        with self.engine.begin() as conn:
            conn.execute(
                update(ITEMS)
                .where(ITEMS.c.state == State.sending.value, ITEMS.c.claimed_at < now - STALE_CLAIM)
                .values(
                    state=State.unsure.value,
                    last_error="the sender stopped while sending: this message may have gone",
                )
            )

    # 2. deliver -----------------------------------------------------------------------------------
    def deliver(self, now: datetime, done: Tick) -> None:
        if self.mailer is None:
            done.errors.append(NO_MAILER)
            return
        with self.engine.connect() as conn:
            due = conn.execute(
                select(ITEMS, P.c.feedback_frequency)
                .join(P, and_(P.c.org_id == ITEMS.c.org_id, P.c.participant_id == ITEMS.c.participant_id))
                .where(ITEMS.c.state == State.queued.value, ITEMS.c.due_at <= now)
                .order_by(ITEMS.c.due_at, ITEMS.c.org_id, ITEMS.c.participant_id, ITEMS.c.change_id)
                .limit(MESSAGES_PER_TICK * 5)
            ).all()
        messages: dict[tuple[str, str, str], list[str]] = {}
        for row in due:
            digest = row.feedback_frequency == Frequency.monthly
            key = (row.org_id, row.participant_id, "" if digest else row.change_id)
            messages.setdefault(key, []).append(row.change_id)
        for (org_id, participant_id, _), change_ids in list(messages.items())[:MESSAGES_PER_TICK]:
            self._send(org_id, participant_id, change_ids, now, done)

    def _claim(
        self, org_id: str, participant_id: str, change_ids: Sequence[str], now: datetime
    ) -> tuple[str, list[str]]:
        """Claim these queued rows for one message; only while the person still consents to e-mail."""
        message_id = str(uuid.uuid4())
        consenting = exists(
            select(P.c.participant_id).where(
                P.c.org_id == org_id,
                P.c.participant_id == participant_id,
                P.c.consent_to_contact.is_(True),
                P.c.erased.is_(False),
                P.c.preferred_channel == Channel.email.value,
                P.c.email.is_not(None),
            )
        )
        with self.engine.begin() as conn:
            conn.execute(
                update(ITEMS)
                .where(
                    ITEMS.c.org_id == org_id,
                    ITEMS.c.participant_id == participant_id,
                    ITEMS.c.change_id.in_(list(change_ids)),
                    ITEMS.c.state == State.queued.value,
                    consenting,
                )
                .values(state=State.sending.value, message_id=message_id, claimed_at=now)
            )
            claimed = conn.execute(
                select(ITEMS.c.change_id).where(ITEMS.c.message_id == message_id, ITEMS.c.state == State.sending.value)
            ).scalars()
            return message_id, sorted(claimed)

    def _send(self, org_id: str, participant_id: str, change_ids: Sequence[str], now: datetime, done: Tick) -> None:
        assert self.mailer is not None  # noqa: S101 (deliver checked)
        message_id, claimed = self._claim(org_id, participant_id, change_ids, now)
        if not claimed:
            return
        mine = and_(ITEMS.c.message_id == message_id, ITEMS.c.state == State.sending.value)
        try:
            with self.engine.begin() as conn:
                person = outcomes.person(conn, org_id, participant_id)
                news = outcomes.news(conn, org_id, participant_id, claimed)
                organisation = outcomes.organisation_name(conn, org_id)
                token, expires = links.create(
                    conn,
                    secret_key=self.settings.signing_key,
                    org_id=org_id,
                    participant_id=participant_id,
                    days=self.settings.participant_link_days,
                    now=now,
                )
            assert person is not None and person.email  # noqa: S101 (the claim checked)
            summary = summaries.compose(
                person,
                news,
                organisation=organisation,
                link=f"{self.settings.public_url}/you/{token}",
                link_expires=(expires - timedelta(seconds=1)).date(),
            )
            self.mailer.send(self._email(summary, person, organisation, message_id))
        except MailFailed as exc:
            self._failed(mine, exc.reason, permanent=exc.permanent, now=now, done=done)
            return
        except SQLAlchemyError as exc:  # the read models could not be read: put it back, try next tick
            with self.engine.begin() as conn:
                conn.execute(update(ITEMS).where(mine).values(state=State.queued.value, claimed_at=None))
            done.errors.append(str(exc).splitlines()[0])
            return
        with self.engine.begin() as conn:
            conn.execute(
                update(ITEMS)
                .where(mine)
                .values(
                    state=State.sent.value,
                    channel=Channel.email.value,
                    sent_at=now,
                    attempts=ITEMS.c.attempts + 1,
                    last_error=None,
                )
            )
        done.sent += 1
        log.info("feedback e-mailed: org=%s message=%s changes=%d", org_id, message_id, len(claimed))

    def _failed(self, mine: Any, reason: str, *, permanent: bool, now: datetime, done: Tick) -> None:
        with self.engine.begin() as conn:
            rows = conn.execute(select(ITEMS.c.attempts).where(mine)).scalars().all()
            attempts = (max(rows) if rows else 0) + 1
            if permanent or attempts >= self.settings.feedback_max_attempts:
                values: dict[str, Any] = {"state": State.failed.value}
                done.failed += 1
            else:
                wait = self.settings.feedback_retry_seconds * 2 ** (attempts - 1)
                values = {"state": State.queued.value, "due_at": now + timedelta(seconds=wait)}
                done.retrying += 1
            conn.execute(
                update(ITEMS).where(mine).values(**values, attempts=attempts, last_error=reason[:500], claimed_at=None)
            )
        log.warning("feedback e-mail failed (attempt %d): %s", attempts, reason)

    def _email(
        self, summary: summaries.Summary, person: outcomes.Person, organisation: str, message_id: str
    ) -> EmailMessage:
        sender = parseaddr(self.settings.mail_from)[1] or "feedback@localhost"
        message = EmailMessage()
        message["Subject"] = summary.subject
        message["From"] = formataddr((organisation, sender))
        message["To"] = formataddr((person.display_name or "", str(person.email)))
        message["Message-ID"] = f"<{message_id}@{sender.rpartition('@')[2] or 'localhost'}>"
        message["Auto-Submitted"] = "auto-generated"
        message.set_content(summary.text)
        message.add_alternative(summaries.email_document(summary, organisation=organisation), subtype="html")
        return message

    # the loop -------------------------------------------------------------------------------------
    def run(self, stop: threading.Event) -> None:
        """Tick every `feedback_interval_seconds` until `stop` is set; a fault is logged and retried."""
        while not stop.is_set():
            started = time.monotonic()
            try:
                done = self.tick()
                self.last_error = done.errors[-1] if done.errors else None
                if done.planned or done.sent or done.failed or done.retrying or done.recorded:
                    log.info(
                        "feedback: planned=%d sent=%d retrying=%d failed=%d recorded=%d",
                        done.planned,
                        done.sent,
                        done.retrying,
                        done.failed,
                        done.recorded,
                    )
            except (LogUnavailable, SQLAlchemyError) as exc:
                self.last_error = str(exc).splitlines()[0]
                log.warning("feedback sender paused: %s", self.last_error)
            stop.wait(max(0.0, self.settings.feedback_interval_seconds - (time.monotonic() - started)))
