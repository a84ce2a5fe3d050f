"""Staff pages for the feedback loop: who is still waiting to hear what came of what they said, and why.

The waiting list is the read models' owed pairs (impact.feedback.outcomes.owed) seen through the feedback outbox
(impact.feedback.outbox): a pair with no outbox row is "waiting for the sender"; one the sender could not send is
shown with its error and can be tried again; one that staff tell themselves (in person or by phone) is
closed here, and its `feedback.sent` appended to the log. Letters to post are printed in batches
(`/staff/feedback/letters`). A participant's private links can be revoked from their page. Every page is
scoped to the signed-in person's organisation.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta
from typing import Any
from zoneinfo import ZoneInfo

from flask import Blueprint, abort, flash, redirect, render_template, request, url_for
from sqlalchemy import Connection, select
from sqlalchemy.exc import SQLAlchemyError

from impact.auth.sessions import CAN_LOG, get_engine, guard, signed_in
from impact.eventlog import LogUnavailable
from impact.feedback import contact, links, outbox, outcomes, summaries
from impact.feedback.outbox import CLOSED, ITEMS, State, aware
from ingest import get_event_log, get_settings, lookups
from schemas.readmodels import Change, Feedback
from schemas.vocab import Channel, Frequency

bp = Blueprint("feedback", __name__, url_prefix="/staff")
guard(bp, CAN_LOG)  # staff and admins of the organisation, like the other staff pages

CH, FB = outcomes._t(Change), outcomes._t(Feedback)
RECENT = timedelta(days=30)
TOLD_HOW = {"in_person": "in person", "phone": "by phone"}
HOW_LABELS = {"email": "by e-mail", "post": "by post", **TOLD_HOW}
NOT_RECORDED_YET = (
    "The event log could not be reached just now, so this is not in the figures yet: it will be recorded "
    "automatically within a few minutes. There is nothing more you need to do."
)


UK = ZoneInfo("Europe/London")


def local(moment: datetime) -> datetime:
    """A stored time (UTC) as staff in the UK read a clock."""
    return aware(moment).astimezone(UK)


def short_day(value: date) -> str:
    return f"{value.day} {value:%b %Y}"


def route(person: outcomes.Person) -> str:
    """How word will reach the person (the sender's routing, in staff's words)."""
    if person.channel == Channel.email and person.email:
        return "e-mail"
    if person.channel == Channel.post and person.postal_address:
        return "letter"
    if person.channel in (Channel.phone, Channel.in_person):
        return f"staff: {TOLD_HOW[person.channel].removeprefix('by ')}"
    return "staff: no way to contact them chosen"


def in_words(item: Any, person: outcomes.Person | None, now: datetime) -> str:
    """Where an outbox item is, in plain words (None: the sender has not looked at the pair yet)."""
    if item is None:
        return "waiting for the sender"
    tries = f"tried {item.attempts} time{'' if item.attempts == 1 else 's'}"
    match item.state:
        case State.queued:
            due = local(item.due_at)
            if person is not None and person.frequency == Frequency.monthly and due > now and not item.attempts:
                return f"monthly digest on {short_day(due.date())}"
            if item.attempts:
                return f"e-mail queued: {tries}, trying again at {due:%H:%M} on {short_day(due.date())}"
            return "e-mail queued"
        case State.sending:
            return "e-mail being sent now"
        case State.unsure:
            return "may have been sent — the system stopped while sending"
        case State.failed:
            return f"e-mail failed: {item.last_error or 'no reason was given'}, {tries}"
        case State.letter:
            return "letter to print"
        case State.staff:
            return "for staff to tell them"
        case State.stopped:  # the reason the sender gave (a correction unlinked them), else consent withdrawn
            return f"stopped: {item.last_error}" if item.last_error else "stopped: consent withdrawn"
        case State.sent | State.given:
            return f"told {HOW_LABELS.get(item.channel or '', 'in person')}"
    return str(item.state)


# --- What the pages show -------------------------------------------------------------------------


@dataclass(frozen=True)
class Waiting:
    """One person waiting to hear about one decided change."""

    person: outcomes.Person
    change_id: str
    title: str
    status: str
    decided_on: date
    days: int
    route: str
    state: str | None  # the outbox state; None while the sender has not looked
    words: str

    @property
    def retry(self) -> bool:
        return self.state in (State.failed, State.unsure)

    @property
    def told_how(self) -> str:
        """How staff most likely told them, chosen first on "Mark told": the person's own channel when it is
        one staff use (phone, in person), otherwise in person."""
        return self.person.channel if self.person.channel in TOLD_HOW else "in_person"

    @property
    def failed(self) -> bool:
        return self.state == State.failed


@dataclass(frozen=True)
class Told:
    """One person told about one change: who, what, how, when and by whom."""

    participant_id: str
    name: str
    change_id: str
    title: str
    how: str
    when: datetime
    by: str


def _chunks(values: Iterable[str], size: int = 500) -> Iterable[list[str]]:
    ordered = sorted(set(values))
    for first in range(0, len(ordered), size):
        yield ordered[first : first + size]


def _items(conn: Connection, org_id: str, change_ids: Iterable[str]) -> dict[tuple[str, str], Any]:
    """The outbox rows of these changes, by (participant, change)."""
    found = {}
    for chunk in _chunks(change_ids):
        query = select(ITEMS).where(ITEMS.c.org_id == org_id, ITEMS.c.change_id.in_(chunk))
        found.update({(row.participant_id, row.change_id): row for row in conn.execute(query)})
    return found


def changes_by_id(conn: Connection, org_id: str, change_ids: Iterable[str]) -> dict[str, Any]:
    found = {}
    for chunk in _chunks(change_ids):
        query = select(CH.c.change_id, CH.c.title, CH.c.status).where(CH.c.org_id == org_id, CH.c.change_id.in_(chunk))
        found.update({row.change_id: row for row in conn.execute(query)})
    return found


def waiting(conn: Connection, org_id: str, now: datetime) -> list[Waiting]:
    """Everyone owed word of a decided change and not yet told, oldest decision first.

    A pair staff or the sender have closed but whose `feedback.sent` the processors have not folded yet is
    told, not waiting: it is left out here (and shown under "recently told")."""
    owed = outcomes.owed(conn, org_id=org_id)
    items = _items(conn, org_id, (o.change_id for o in owed))
    changes = changes_by_id(conn, org_id, (o.change_id for o in owed))
    found = []
    for pair in owed:
        item = items.get((pair.person.participant_id, pair.change_id))
        if item is not None and item.state in CLOSED:
            continue
        change = changes.get(pair.change_id)
        found.append(
            Waiting(
                pair.person,
                pair.change_id,
                change.title if change else pair.change_id,
                change.status if change else "",
                pair.decided_on,
                (now.date() - pair.decided_on).days,
                route(pair.person),
                item.state if item is not None else None,
                in_words(item, pair.person, now),
            )
        )
    return sorted(found, key=lambda w: (w.decided_on, (w.person.display_name or "").lower(), w.change_id))


def waiting_count(conn: Connection, org_id: str) -> int:
    return len(waiting(conn, org_id, datetime.now(UTC)))


def _name(person: outcomes.Person | None, participant_id: str) -> str:
    if person is None or person.erased:
        return "(erased)" if person is not None else participant_id
    return person.display_name or participant_id


def _told(conn: Connection, org_id: str, since: datetime | None, participant_id: str | None = None) -> list[Told]:
    """Who was told what, newest first: closed outbox items, and `feedback.sent` recorded some other way."""
    closed = select(ITEMS).where(ITEMS.c.org_id == org_id, ITEMS.c.state.in_([s.value for s in CLOSED]))
    recorded = select(FB).where(FB.c.org_id == org_id)
    if since is not None:
        closed, recorded = closed.where(ITEMS.c.sent_at >= since), recorded.where(FB.c.sent_at >= since)
    if participant_id is not None:
        closed = closed.where(ITEMS.c.participant_id == participant_id)
        recorded = recorded.where(FB.c.participant_id == participant_id)
    rows: dict[tuple[str, str], tuple[str, datetime, str]] = {}
    for row in conn.execute(recorded.limit(2000)):  # sent some other way (the API, the demo): by nobody here
        rows[(row.participant_id, row.change_id)] = (row.channel, local(row.sent_at), "")
    for row in conn.execute(closed.limit(2000)):
        by = row.done_by or ("the system" if row.channel == Channel.email else "")
        rows[(row.participant_id, row.change_id)] = (row.channel or "", local(row.sent_at or row.found_at), by)
    people = outcomes.people(conn, org_id, (pid for pid, _ in rows))
    changes = changes_by_id(conn, org_id, (cid for _, cid in rows))
    told = [
        Told(
            pid,
            _name(people.get(pid), pid),
            cid,
            changes[cid].title if cid in changes else cid,
            HOW_LABELS.get(how, how),
            when,
            by,
        )
        for (pid, cid), (how, when, by) in rows.items()
    ]
    return sorted(told, key=lambda t: (t.when, t.participant_id, t.change_id), reverse=True)


@dataclass(frozen=True)
class History:
    """The feedback section of a participant's staff page."""

    told: list[Told]
    waiting: list[Waiting]
    live_links: int


def history(conn: Connection, org_id: str, participant_id: str) -> History:
    now = datetime.now(UTC)
    mine = [w for w in waiting(conn, org_id, now) if w.person.participant_id == participant_id]
    live = links.live(conn, org_id=org_id, participant_id=participant_id, now=now)
    return History(_told(conn, org_id, None, participant_id), mine, live)


def _owed_pair(conn: Connection, org_id: str, participant_id: str, change_id: str) -> outcomes.Owed | None:
    return next(
        (
            o
            for o in outcomes.owed(conn, org_id=org_id)
            if o.person.participant_id == participant_id and o.change_id == change_id
        ),
        None,
    )


def new_item(pair: outcomes.Owed, now: datetime) -> dict[str, Any]:
    """An outbox row for a pair the sender has not looked at yet, routed as the sender would route it."""
    person = pair.person
    target = {"e-mail": State.queued, "letter": State.letter}.get(route(person), State.staff)
    return {
        "org_id": person.org_id,
        "participant_id": person.participant_id,
        "change_id": pair.change_id,
        "decided_on": pair.decided_on,
        "state": target.value,
        "channel": person.channel,
        "found_at": now,
        "due_at": now,
        "attempts": 0,
        "recorded": False,
    }


def record_sent(org_id: str) -> bool:
    """Append the organisation's closed items' `feedback.sent`; False if the log is down (the sender retries)."""
    try:
        outbox.record(get_engine(), get_event_log(), get_settings().topic, org_id=org_id)
    except LogUnavailable:
        return False
    return True


def after(message: str, recorded: bool, to: str) -> Any:
    flash(message if recorded else f"{message} {NOT_RECORDED_YET}", "success")
    return redirect(to, code=303)


def refuse(message: str, to: str) -> Any:
    flash(message, "error")
    return redirect(to, code=303)


# --- Pages ------------------------------------------------------------------------------------


@bp.app_context_processor
def _nav() -> dict[str, Any]:
    """`feedback_waiting()` for the navigation: how many people of the organisation wait to hear."""

    def feedback_waiting() -> int:
        try:
            with get_engine().connect() as conn:
                return waiting_count(conn, signed_in().org_id)
        except SQLAlchemyError:  # a count in the navigation never breaks a page
            return 0

    return {"feedback_waiting": feedback_waiting}


@bp.get("/feedback/")
def index() -> Any:
    now = datetime.now(UTC)
    org_id = signed_in().org_id
    with get_engine().connect() as conn:
        rows = waiting(conn, org_id, now)
        told = _told(conn, org_id, now - RECENT)
    return render_template(
        "feedback.html",
        rows=rows,
        told=told,
        failed=sum(1 for r in rows if r.failed),
        unsure=sum(1 for r in rows if r.state == State.unsure),
        letters=len({r.person.participant_id for r in rows if r.state == State.letter}),
        told_how=TOLD_HOW,
    )


def digestchanges_by_id(conn: Connection, org_id: str, person: outcomes.Person, change_id: str) -> list[str]:
    """What one message to the person would cover: this change, or for a monthly reader all they wait for."""
    if person.frequency != Frequency.monthly:
        return [change_id]
    now = datetime.now(UTC)
    theirs = [w.change_id for w in waiting(conn, org_id, now) if w.person.participant_id == person.participant_id]
    return sorted({change_id, *theirs})


@bp.get("/feedback/preview/<participant_id>/<change_id>")
def preview(participant_id: str, change_id: str) -> Any:
    """The summary exactly as it would go (without the private link, which is made when it is sent)."""
    org_id = signed_in().org_id
    with get_engine().connect() as conn:
        person = outcomes.person(conn, org_id, participant_id)
        if person is None or person.erased:
            abort(404)
        news = outcomes.news(conn, org_id, participant_id, [change_id])
        if not news or not outcomes.is_decided(news[0].decision.status):
            abort(404)
        covered = digestchanges_by_id(conn, org_id, person, change_id)
        if len(covered) > 1:
            news = outcomes.news(conn, org_id, participant_id, covered)
        organisation = contact.contact(conn, org_id)
    how = route(person)
    summary = summaries.compose(
        person,
        news,
        organisation=organisation,
        link=None,
        link_expires=None,
        medium="letter" if how == "letter" else "email",
    )
    return render_template("feedback_preview.html", person=person, summary=summary, news=news, how=how)


@bp.post("/feedback/told/<participant_id>/<change_id>")
def told(participant_id: str, change_id: str) -> Any:
    """Staff told the person themselves: close the item as given, then record `feedback.sent`."""
    me = signed_in()
    back = url_for("feedback.index")
    now = datetime.now(UTC)
    how = request.form.get("how", "")
    with get_engine().begin() as conn:
        pair = _owed_pair(conn, me.org_id, participant_id, change_id)
        if pair is None:
            if (participant_id, change_id) in _items(conn, me.org_id, [change_id]):
                return refuse(
                    "They have already been told about this change (or no longer wait for it): nothing was changed.",
                    back,
                )
            abort(404)
        if how not in TOLD_HOW:
            return refuse("Choose whether you told them in person or by phone, then mark them as told.", back)
        outbox.add(conn, [new_item(pair, now)])  # a pair the sender has not looked at yet gets its row first
        _message, closed = outbox.close(
            conn,
            org_id=me.org_id,
            participant_id=participant_id,
            change_ids=[change_id],
            state=State.given,
            channel=how,
            by=me.email,
            now=now,
        )
        change = changes_by_id(conn, me.org_id, [change_id]).get(change_id)
        item = _items(conn, me.org_id, [change_id]).get((participant_id, change_id))
    name = pair.person.display_name or participant_id
    if not closed and item is not None and item.state not in CLOSED:  # claimed by the sender meanwhile
        return refuse(f"{name} could not be marked as told: {in_words(item, pair.person, now)}.", back)
    if not closed:
        return after(f"{name} was already marked as told about this: nothing was added.", record_sent(me.org_id), back)
    title = change.title if change else change_id
    return after(f"Recorded: {name} was told about “{title}” {TOLD_HOW[how]}.", record_sent(me.org_id), back)


@bp.post("/feedback/retry/<participant_id>/<change_id>")
def retry(participant_id: str, change_id: str) -> Any:
    """Try a failed (or possibly sent) e-mail again, from the first try."""
    me = signed_in()
    back = url_for("feedback.index")
    with get_engine().begin() as conn:
        item = _items(conn, me.org_id, [change_id]).get((participant_id, change_id))
        if item is None:
            abort(404)
        tried = outbox.requeue(
            conn, org_id=me.org_id, participant_id=participant_id, change_ids=[change_id], now=datetime.now(UTC)
        )
        person = outcomes.person(conn, me.org_id, participant_id)
    name = _name(person, participant_id)
    if not tried:
        return refuse(
            f"The e-mail to {name} is not waiting to be tried again: {in_words(item, person, datetime.now(UTC))}.", back
        )
    flash(f"The e-mail to {name} will be tried again in the next few seconds.", "success")
    return redirect(back, code=303)


@bp.post("/participants/<participant_id>/links/revoke")
def revoke_links(participant_id: str) -> Any:
    """Stop every private link of the person at once (a letter went astray, a forwarded e-mail)."""
    me = signed_in()
    lookups.participant_or_404(get_engine(), me.org_id, participant_id)
    with get_engine().begin() as conn:
        live = links.live(conn, org_id=me.org_id, participant_id=participant_id)
        links.revoke(conn, org_id=me.org_id, participant_id=participant_id)  # expired ones too: none opens again
    back = url_for("forms.participant", participant_id=participant_id)
    if not live:
        flash("They had no private link that still worked: nothing changed for them.", "info")
    else:
        stopped = "it no longer works" if live == 1 else "none of them works any more"
        flash(f"{live} private link{'' if live == 1 else 's'} revoked: {stopped}.", "success")
    return redirect(back, code=303)
