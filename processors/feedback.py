"""The feedback sender: finds who is owed word of a decided change, tells them, and records `feedback.sent`.

Each tick, once the read models have caught up with the log as it stood when the sender started (so a
rebuilt database has folded every earlier `feedback.sent` before anything is judged owed):
1. plan: every owed pair (impact.feedback.outcomes.owed) gets a row in the outbox (impact.feedback.outbox), at most once
   ever; open rows follow the person's consent and channel (withdrawn consent stops them at once), the
   decision (reopened stops them) and the links (a person no longer linked to the change is stopped, with why);
2. deliver: due e-mails are claimed (compare-and-set), composed (impact.feedback.summaries), given a private link
   (impact.feedback.links) and sent; a failure waits and retries with a doubling wait, then asks staff to look;
3. record: every closed row's `feedback.sent` goes into the log (the same event on every retry).

Never twice: a row is created once and claimed once, across restarts, replays (the outbox is not a read
model) and several senders. The one gap is a sender killed between the mail server taking a message
and the row being marked sent: that row becomes `unsure`, and staff decide.
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, timedelta
from datetime import time as clock
from email.header import Header
from email.message import EmailMessage
from email.utils import format_datetime, parseaddr
from typing import Any

from sqlalchemy import Engine, and_, func, select, tuple_
from sqlalchemy.exc import SQLAlchemyError

from impact.eventlog import EventLog, LogUnavailable
from impact.feedback import contact, links, outbox, outcomes, summaries
from impact.feedback.outbox import ITEMS, State, aware
from impact.months import add_months, first_of_month
from impact.settings import Settings
from processors.mail import Mailer, MailFailed, address_header, mailer_for
from processors.store import ReadModelStore
from schemas.vocab import Channel, Frequency

log = logging.getLogger(__name__)
STALE_CLAIM = timedelta(minutes=10)  # a claim older than this belongs to a sender that stopped mid-send
DIGEST_HOUR = clock(9, 0, tzinfo=UTC)  # monthly digests go on the first of the month from 09:00 UTC
MESSAGES_PER_TICK = 100
MAX_CHANGES = 200  # the most changes one `feedback.sent` names (schemas.events.FeedbackSent)
REPLAN_S = 60.0
NO_MAILER = "e-mail is not set up (IMPACT_SMTP_HOST): e-mails wait until it is"
P = outcomes.P


def _one_line(text: str) -> str:
    """A name fit for a mail header: line breaks (which free text may hold) would end the header."""
    return " ".join(text.split())


def subject_header(subject: str) -> str:
    """The Subject header, encoded and folded by us so that it reads back exactly as written.

    The e-mail package's own folding (policy.default) can drop the space between an encoded word and the plain
    word after it ("Higher-contrast colours" arrived as "Higher-contrastcolours"). The older `Header` encoder puts
    every character of a non-ASCII subject inside encoded words, where no folding can lose a space, and keeps each
    line under 78 characters.
    """
    return Header(_one_line(subject), "utf-8", header_name="Subject").encode(maxlinelen=76)


def digest_day(moment: date | datetime) -> datetime:
    """The first of the month after `moment` (a day, or a time in UTC), 09:00 UTC: a monthly digest day."""
    day = moment.astimezone(UTC).date() if isinstance(moment, datetime) else moment
    return datetime.combine(add_months(first_of_month(day), 1), DIGEST_HOUR)


def _linked(conn: Any, changes: set[tuple[str, str]]) -> set[tuple[str, str, str]]:
    """Of these (org, change) pairs, every (org, participant, change) still linked: a link from the change to a
    contribution the person made (corrections replace a change's links and a contribution's people)."""
    L, CP = outcomes.L, outcomes.CP
    wanted = sorted(changes)
    found: set[tuple[str, str, str]] = set()
    for first in range(0, len(wanted), 300):
        query = (
            select(L.c.org_id, CP.c.participant_id, L.c.change_id)
            .distinct()
            .select_from(L.join(CP, and_(CP.c.org_id == L.c.org_id, CP.c.contribution_id == L.c.contribution_id)))
            .where(tuple_(L.c.org_id, L.c.change_id).in_(wanted[first : first + 300]))
        )
        found.update((o, p, c) for o, p, c in conn.execute(query))
    return found


def routed(person: outcomes.Person) -> State:
    """Where an owed item goes for this person now."""
    if not person.consent or person.erased:
        return State.stopped
    if person.channel == Channel.email and person.email:
        return State.queued
    if person.channel == Channel.post and person.postal_address:
        return State.letter
    return State.staff  # phone, in person, or no channel chosen: staff tell them


def _due(person: outcomes.Person, decided_on: date, found_at: datetime) -> datetime:
    """When an item found (or rerouted) at `found_at` may go: at once, or, for a monthly reader, on the first
    digest day after the decision, and at once if that day has passed (a decision found late is not held back
    another month)."""
    return max(digest_day(decided_on), found_at) if person.frequency == Frequency.monthly else found_at


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
                        "due_at": _due(item.person, item.decided_on, now),
                        "attempts": 0,
                        "recorded": False,
                    }
                )
            outbox.add(conn, rows)  # a row another sender added meanwhile is kept as it is
            self._follow_people(conn, now)
        return len(rows)

    def _follow_people(self, conn: Any, now: datetime) -> None:
        """Open rows follow their person and their change: consent withdrawn or erased, a decision reopened, or
        the person no longer linked to the change (a corrected change or contribution) stops them; undoing that,
        or a new channel, reroutes them; a pair told some other way (a `feedback.sent` from elsewhere) is closed.
        A row that may have been sent (`unsure`) waits for staff, and so does a failed one unless it stops."""
        movable = [State.queued, State.letter, State.staff, State.stopped, State.failed, State.unsure]
        rows = conn.execute(select(ITEMS).where(ITEMS.c.state.in_([s.value for s in movable]))).all()
        if not rows:
            return
        told = outcomes.told(conn, [(r.org_id, r.participant_id, r.change_id) for r in rows])
        decided = outcomes.decided(conn, {(r.org_id, r.change_id) for r in rows})
        linked = _linked(conn, {(r.org_id, r.change_id) for r in rows})
        by_org: dict[str, set[str]] = {}
        for row in rows:
            by_org.setdefault(row.org_id, set()).add(row.participant_id)
        people = {(org, pid): p for org, pids in by_org.items() for pid, p in outcomes.people(conn, org, pids).items()}
        for row in rows:
            if (row.org_id, row.participant_id, row.change_id) in told:
                outbox.close_told(conn, row, now=now)
                continue
            person = people.get((row.org_id, row.participant_id))
            current = State(row.state)
            if person is None or current == State.unsure:
                continue  # it may have gone: only staff release it
            reason = None
            if (row.org_id, row.participant_id, row.change_id) not in linked:
                target, reason = State.stopped, outbox.UNLINKED
            elif (row.org_id, row.change_id) in decided:
                target = routed(person)
            else:
                target = State.stopped
            if current == State.failed and target != State.stopped:
                continue  # staff decide about these
            if current == State.letter and row.done_by == outbox.PRINTED and target != State.stopped:
                continue  # printed: it goes by post, whatever channel they choose now
            if target == State.stopped:
                if current != State.stopped or row.last_error != reason:
                    outbox.stop(conn, row, reason=reason)
            elif target != current:
                due = _due(person, row.decided_on, now)
                outbox.reroute(conn, row, to=target, channel=person.channel, due_at=due)
            elif target == State.queued and row.attempts == 0 and aware(row.due_at) > now:
                # Waiting for a digest day: only ever earlier (they now hear of each change, or it was dated by
                # the older rule, from when it was found rather than from the decision).
                due = _due(person, row.decided_on, aware(row.found_at))
                if due < aware(row.due_at):
                    outbox.reschedule(conn, row, due_at=due)

    def _expire_claims(self, now: datetime) -> None:
        with self.engine.begin() as conn:
            outbox.expire_claims(conn, older_than=now - STALE_CLAIM)

    # 2. deliver -----------------------------------------------------------------------------------
    def deliver(self, now: datetime, done: Tick) -> None:
        """Send what is due, oldest first: one message per change, or per person for a monthly digest."""
        if self.mailer is None:
            done.errors.append(NO_MAILER)
            return
        with self.engine.connect() as conn:
            due = ITEMS.c.state == State.queued.value, ITEMS.c.due_at <= now
            people = conn.execute(
                select(ITEMS.c.org_id, ITEMS.c.participant_id, func.min(ITEMS.c.due_at).label("first"))
                .where(*due)
                .group_by(ITEMS.c.org_id, ITEMS.c.participant_id)
                .order_by("first", ITEMS.c.org_id, ITEMS.c.participant_id)
                .limit(MESSAGES_PER_TICK)
            ).all()
            messages: list[tuple[str, str, list[str]]] = []
            for org_id, participant_id, _first in people:
                rows = conn.execute(
                    select(ITEMS.c.change_id, P.c.feedback_frequency)
                    .join(P, and_(P.c.org_id == ITEMS.c.org_id, P.c.participant_id == ITEMS.c.participant_id))
                    .where(*due, ITEMS.c.org_id == org_id, ITEMS.c.participant_id == participant_id)
                    .order_by(ITEMS.c.change_id)
                ).all()
                change_ids = [row.change_id for row in rows]
                if rows and rows[0].feedback_frequency == Frequency.monthly:  # a digest: every change at once
                    batches = [change_ids[i : i + MAX_CHANGES] for i in range(0, len(change_ids), MAX_CHANGES)]
                else:
                    batches = [[change_id] for change_id in change_ids]
                messages += [(org_id, participant_id, batch) for batch in batches]
        for org_id, participant_id, change_ids in messages[:MESSAGES_PER_TICK]:
            if not self._send(org_id, participant_id, change_ids, now, done):
                break  # the mail server itself failed: the rest wait for the next tick

    def _claim(self, org_id: str, participant_id: str, change_ids: Sequence[str]) -> tuple[str, list[str]]:
        with self.engine.begin() as conn:
            return outbox.claim(conn, org_id=org_id, participant_id=participant_id, change_ids=change_ids)

    def _send(self, org_id: str, participant_id: str, change_ids: Sequence[str], now: datetime, done: Tick) -> bool:
        """Claim, compose and send one message; False when the mail server itself failed (stop this tick)."""
        assert self.mailer is not None  # noqa: S101 (deliver checked)
        message_id, claimed = self._claim(org_id, participant_id, change_ids)
        if not claimed:
            return True
        try:
            with self.engine.begin() as conn:
                person = outcomes.person(conn, org_id, participant_id)
                news = outcomes.news(conn, org_id, participant_id, claimed)
                gone = sorted(set(claimed) - {n.decision.change_id for n in news})
                # Unlinked since the claim (which checks the links): those leave the message, stopped.
                outbox.drop_unlinked(conn, message_id=message_id, change_ids=gone)
                if not news:
                    return True  # nothing left to say: never compose a message about no change
                organisation = contact.contact(conn, org_id)
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
            self.mailer.send(self._email(summary, person, organisation, message_id, now=now))
        except MailFailed as exc:
            self._failed(message_id, exc.reason, permanent=exc.permanent, now=now, done=done)
            return not exc.server
        except SQLAlchemyError as exc:  # the read models could not be read: put it back, try next tick
            with self.engine.begin() as conn:
                outbox.release(conn, message_id=message_id)
            done.errors.append(str(exc).splitlines()[0])
            return False
        except Exception as exc:  # a message that cannot be built: staff see why; the others still go
            log.exception("feedback message %s could not be built", message_id)
            self._failed(
                message_id, f"could not write this message ({type(exc).__name__})", permanent=True, now=now, done=done
            )
            return True
        with self.engine.begin() as conn:
            outbox.mark_sent(conn, message_id=message_id, now=now)
        done.sent += 1
        log.info("feedback e-mailed: org=%s message=%s changes=%d", org_id, message_id, len(claimed))
        return True

    def _failed(self, message_id: str, reason: str, *, permanent: bool, now: datetime, done: Tick) -> None:
        with self.engine.begin() as conn:
            state, attempts = outbox.fail_or_retry(
                conn,
                message_id=message_id,
                reason=reason,
                permanent=permanent,
                max_attempts=self.settings.feedback_max_attempts,
                retry_seconds=self.settings.feedback_retry_seconds,
                now=now,
            )
        if state == State.failed:
            done.failed += 1
        else:
            done.retrying += 1
        log.warning("feedback e-mail failed (attempt %d): %s", attempts, reason)

    def _email(
        self,
        summary: summaries.Summary,
        person: outcomes.Person,
        organisation: contact.Contact,
        message_id: str,
        *,
        now: datetime,
    ) -> EmailMessage:
        sender = parseaddr(self.settings.mail_from)[1] or "feedback@localhost"
        message = EmailMessage()
        message.set_raw("Subject", subject_header(summary.subject))
        message["Date"] = format_datetime(now.astimezone(UTC), usegmt=True)
        message["From"] = address_header(organisation.name, sender)
        message["To"] = address_header(person.display_name or "", str(person.email))
        if organisation.reply_email:  # replies reach people at the charity, not an unread sending address
            message["Reply-To"] = address_header(organisation.name, organisation.reply_email)
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
            except Exception as exc:  # never let one surprise stop the feedback loop for everyone
                self.last_error = f"{type(exc).__name__}: {str(exc).splitlines()[0] if str(exc) else ''}"
                log.exception("feedback sender tick failed")
            stop.wait(max(0.0, self.settings.feedback_interval_seconds - (time.monotonic() - started)))
