"""Letters for people who hear by post: a printable batch, then "mark these as posted" for exactly that batch."""

from __future__ import annotations

import re
import uuid
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

from flask import Blueprint, abort, flash, make_response, redirect, render_template, request, url_for
from markupsafe import Markup
from sqlalchemy import Connection, select

from impact.auth.sessions import CAN_LOG, get_engine, guard, signed_in
from impact.feedback import contact as contacts
from impact.feedback import links, outbox, outcomes, qr, summaries
from impact.feedback.outbox import ITEMS, State
from ingest import get_settings
from ingest.forms.feedback import after, changes_by_id, record_sent, refuse
from schemas.vocab import Channel

bp = Blueprint("letters", __name__, url_prefix="/staff")
guard(bp, CAN_LOG)  # staff and admins of the organisation, like the other staff pages
_BATCH_ID = re.compile(r"[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}")


def pairs_posted(values: Sequence[str]) -> dict[str, list[str]]:
    """`participant|change` values from a form, by participant (ids never contain `|`)."""
    chosen: dict[str, list[str]] = {}
    for value in values:
        participant_id, _, change_id = value.partition("|")
        if participant_id and change_id:
            chosen.setdefault(participant_id, []).append(change_id)
    return chosen


@dataclass(frozen=True)
class Letter:
    """One letter: everything one person waits to hear by post."""

    person: outcomes.Person
    change_ids: list[str]
    titles: list[str]

    @property
    def items(self) -> list[str]:
        return [f"{self.person.participant_id}|{change_id}" for change_id in self.change_ids]


def letters_due(conn: Connection, org_id: str) -> list[Letter]:
    """The items in state `letter` that are still owed (a pair told some other way, or whose person withdrew
    consent or was erased, is left for the sender to move), one letter per person, in name order."""
    owed = {(o.person.participant_id, o.change_id): o for o in outcomes.owed(conn, org_id=org_id)}
    rows = conn.execute(select(ITEMS).where(ITEMS.c.org_id == org_id, ITEMS.c.state == State.letter.value))
    by_person: dict[str, list[str]] = {}
    for row in rows:
        if (row.participant_id, row.change_id) in owed:
            by_person.setdefault(row.participant_id, []).append(row.change_id)
    changes = changes_by_id(conn, org_id, (c for cs in by_person.values() for c in cs))
    letters = []
    for participant_id, change_ids in by_person.items():
        person = owed[(participant_id, change_ids[0])].person
        ordered = sorted(change_ids)
        titles = [changes[c].title if c in changes else c for c in ordered]
        letters.append(Letter(person, ordered, titles))
    return sorted(
        letters, key=lambda letter: ((letter.person.display_name or "").lower(), letter.person.participant_id)
    )


@bp.get("/feedback/letters")
def index() -> Any:
    with get_engine().connect() as conn:
        due = letters_due(conn, signed_in().org_id)
    return render_template("feedback_letters.html", letters=due)


@bp.post("/feedback/letters/print")
def print_batch() -> Any:
    """Make a printed batch of the letters that were listed (not any added since), then show it (GET after POST).

    Each letter carries the person's private link and its short code, so they must exist when it is printed.
    They are made by the batch's page, once per person per batch (links.letter_link): the list can be opened
    and reloaded freely without making links nobody receives, and the batch's page can be reloaded, or opened
    again from the browser's history, and shows the same letters with the same links.
    """
    me = signed_in()
    chosen = pairs_posted(request.form.getlist("item"))
    batch_id = str(uuid.uuid4())
    marked = 0
    with get_engine().begin() as conn:
        for letter in letters_due(conn, me.org_id):
            change_ids = [c for c in letter.change_ids if c in chosen.get(letter.person.participant_id, ())]
            if change_ids:
                # Printed: from now on the person's rows stay letters (no e-mail as well) until posted or stopped.
                outbox.mark_printed(
                    conn,
                    org_id=me.org_id,
                    participant_id=letter.person.participant_id,
                    change_ids=change_ids,
                    batch_id=batch_id,
                )
                marked += 1
    if not marked:
        return refuse("There are no letters to print: they have been posted, or no longer wait.", url_for(".index"))
    return redirect(url_for(".batch", batch_id=batch_id), 303)


@dataclass(frozen=True)
class Printed:
    """One letter of a printed batch, ready to print."""

    letter: Letter
    summary: summaries.Summary
    code: str  # the short code, as printed (ABCDE-FGHJK)
    qr: Markup  # the private link as a QR code (inline SVG: squares and a fixed label, no text of the letter)


@bp.get("/feedback/letters/batch/<batch_id>")
def batch(batch_id: str) -> Any:
    """A printed batch: the same letters, links and codes however often it is opened, until they are posted."""
    me, settings = signed_in(), get_settings()
    if not _BATCH_ID.fullmatch(batch_id):
        abort(404)
    now = datetime.now(UTC)
    printed: list[Printed] = []
    with get_engine().begin() as conn:
        contact = contacts.contact(conn, me.org_id)
        waiting = outbox.printed_batch(conn, org_id=me.org_id, batch_id=batch_id)
        for letter in letters_due(conn, me.org_id):
            change_ids = [c for c in letter.change_ids if c in waiting.get(letter.person.participant_id, ())]
            if not change_ids:
                continue
            pid = letter.person.participant_id
            token, expires, code = links.letter_link(
                conn,
                secret_key=settings.signing_key,
                org_id=me.org_id,
                participant_id=pid,
                batch_id=batch_id,
                days=settings.participant_link_days,
                now=now,
            )
            link = f"{settings.public_url}/you/{token}"
            summary = summaries.compose(
                letter.person,
                outcomes.news(conn, me.org_id, pid, change_ids),
                organisation=contact,
                link=link,
                link_expires=(expires - timedelta(seconds=1)).date(),
                code=(f"{settings.public_url}/you/", links.show_code(code)),
                medium="letter",
            )
            shown = links.show_code(code)
            printed.append(Printed(Letter(letter.person, change_ids, []), summary, shown, qr.svg(link)))
    if not printed:
        flash(
            "Every letter of that batch has been marked as posted, or no longer waits: there is nothing left in it "
            "to print.",
            "info",
        )
        return redirect(url_for(".index"), 303)
    response = make_response(
        render_template("letters.html", printed=printed, today=summaries.day(now.date()), contact=contact)
    )
    response.headers["Cache-Control"] = "no-store"  # private links
    return response


@bp.post("/feedback/letters/posted")
def posted() -> Any:
    """Close exactly the items of the printed batch as sent by post, then record their `feedback.sent`."""
    me = signed_in()
    back = url_for(".index")
    now = datetime.now(UTC)
    posted = items = 0
    withheld: list[str] = []
    with get_engine().begin() as conn:
        for participant_id, change_ids in pairs_posted(request.form.getlist("item")).items():
            person = outcomes.person(conn, me.org_id, participant_id)
            if person is None or not person.consent or person.erased:
                shown = person.display_name if person is not None and not person.erased else None
                withheld.append(shown or participant_id)
                continue  # consent withdrawn (or details erased) since the batch was printed
            _message, closed = outbox.close(
                conn,
                org_id=me.org_id,
                participant_id=participant_id,
                change_ids=change_ids,
                state=State.sent,
                channel=Channel.post.value,
                by=me.email,
                now=now,
                from_states=frozenset({State.letter}),
            )
            posted, items = posted + bool(closed), items + len(closed)
    if withheld:
        flash(
            f"Do not post the letter to {', '.join(withheld)}: they withdrew consent to be contacted since it was "
            "printed. It was not marked as posted.",
            "error",
        )
    if not posted:
        return refuse("These letters were already marked as posted, or no longer wait: nothing was changed.", back)
    plural = "" if posted == 1 else "s"
    about = f"{items} change{'' if items == 1 else 's'}"
    return after(
        f"{posted} letter{plural} marked as posted (telling people about {about}).", record_sent(me.org_id), back
    )
