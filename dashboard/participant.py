"""The participant's own page: `GET /you/<token>`, opened from a private link, with no sign-in.

Participants have no account: the token (impact/feedback/links.py: signed, expiring, revocable, with nothing
personal in it) is the only key. The page lists everything the person told the organisation, newest first,
and what came of each: the changes it is linked to, in the same words as the "you made a difference"
e-mails (impact/feedback/summaries.py). Only this person's own data is read (impact/feedback/outcomes.py
scopes every query to the link's organisation and participant): a joint contribution's words are theirs too,
but the other people who made it are never named.

Decided outcomes come first; everything still being decided is one group at the end ("Still being decided:
N things you said"), not a "nothing decided yet" under each. A declined change never shows what it would have
done as if done: it says it was not possible, and why. Every page ends with how to reach the charity (phone,
e-mail, post) to ask a question or stop the updates. Someone with a printed letter can type its short code at
`/you/` instead of the whole link (a few tries a minute per address: impact/feedback/links.py).

A link that does not open gets a page that says so and what to do, and nothing else: never whose link it
was. Tampered (or never made here): 404. Expired: 410. Revoked, or the person's details were erased: 410.
Every one of these pages is `no-store`, sends no referrer (the token is in the URL) and asks search
engines not to index it. Plain Jinja with autoescape: free text is escaped, never marked safe.
"""

from __future__ import annotations

import logging
import threading
import time
from collections import deque
from dataclasses import dataclass
from datetime import date

import dash
from flask import Response, make_response, redirect, render_template, request
from sqlalchemy import Engine
from sqlalchemy.exc import SQLAlchemyError

from impact.feedback import contact, links, outcomes
from impact.feedback.outcomes import Decision, Said, Story
from impact.feedback.summaries import day, influence, what_happened
from schemas.vocab import label

logger = logging.getLogger(__name__)

ENDPOINT = "participant_page"  # public: dashboard/access.py lets it through without sign-in
LONGEST_TOKEN = 512  # ours are about 60 characters; anything far longer is not one of ours

INTRO = "Here is everything you have told us, and what came of it."
NOT_DECIDED = "We have not decided anything about these yet. We will let you know when we do."
ALSO_UNDECIDED = "We are still thinking about other ideas that came from what you said. We will let you know."
STATUS_WORDS = {"implemented": "Change made", "agreed": "Change agreed", "declined": "Not able to make this change"}
HEADERS = {
    "Cache-Control": "no-store",
    "Pragma": "no-cache",
    "Referrer-Policy": "no-referrer",  # the token is in the URL: never send it on
    "X-Robots-Tag": "noindex, nofollow",
}


@dataclass(frozen=True)
class RefusalPage:
    status: int
    title: str
    message: str


NEW_LINK = "Please ask the charity that sent you this link for a new one."
REFUSALS: dict[links.Refusal, RefusalPage] = {
    links.Refusal.tampered: RefusalPage(404, "This link does not work", NEW_LINK),
    links.Refusal.expired: RefusalPage(
        410, "This link has expired", f"To keep your page private, its link works for a limited time. {NEW_LINK}"
    ),
    links.Refusal.revoked: RefusalPage(410, "This link no longer works", NEW_LINK),
}
UNAVAILABLE = RefusalPage(503, "This page cannot be shown right now", "Please try again in a few minutes.")


@dataclass(frozen=True)
class Outcome:
    """One decided change, worded for the person whose words it is linked to."""

    title: str
    description: str  # what we did or will do ("What we did: ..."); empty for a declined change
    status: str  # the status in words (never shown by colour alone)
    status_key: str
    happened: str
    reason: str | None  # for a declined change: why
    influence: str


@dataclass(frozen=True)
class Entry:
    """One contribution on the page, and what came of it."""

    contribution_id: str
    made_on: date
    day: str
    area: str
    activity: str | None
    text: str
    outcomes: tuple[Outcome, ...]
    undecided: bool  # some linked change is still only proposed


@dataclass(frozen=True)
class ParticipantPage:
    organisation: str
    name: str | None
    entries: tuple[Entry, ...]  # every contribution, newest first
    link_works_until: str
    contact: contact.Contact | None = None

    @property
    def decided(self) -> tuple[Entry, ...]:
        """Contributions something was decided about, newest first: what the person most wants to see."""
        return tuple(entry for entry in self.entries if entry.outcomes)

    @property
    def undecided(self) -> tuple[Entry, ...]:
        """Contributions nothing is decided about yet, newest first: one group, at the end."""
        return tuple(entry for entry in self.entries if not entry.outcomes)


def _described(decision: Decision) -> str:
    """What the change does, never for a declined one (its description says what it would have done)."""
    description = decision.description.strip()
    if not description or decision.status == "declined":
        return ""
    return f"What we will do: {description}" if decision.status == "agreed" else f"What we did: {description}"


def _outcome(decision: Decision, strength: str) -> Outcome:
    return Outcome(
        title=decision.title,
        description=_described(decision),
        status=STATUS_WORDS.get(decision.status, label(decision.status)),
        status_key=decision.status,
        happened=what_happened(decision),
        reason=decision.note if decision.status == "declined" and decision.note else None,
        influence=influence(strength),
    )


def _entry(story: Story) -> Entry:
    said: Said = story.said
    decided = tuple(_outcome(d, s) for d, s in story.changes if outcomes.is_decided(d.status))
    return Entry(
        contribution_id=said.contribution_id,
        made_on=said.made_on,
        day=day(said.made_on),
        area=label(said.area),
        activity=said.activity_title,
        text=said.text,
        outcomes=decided,
        undecided=len(decided) < len(story.changes),
    )


def build(
    stories: list[Story],
    *,
    organisation: str | contact.Contact,
    name: str | None,
    expires_on: date,
) -> ParticipantPage:
    """The page's content (stories come newest first from impact.feedback.outcomes.stories)."""
    details = organisation if isinstance(organisation, contact.Contact) else contact.Contact(organisation)
    return ParticipantPage(
        organisation=details.name,
        name=name,
        entries=tuple(_entry(story) for story in stories),
        link_works_until=day(expires_on),
        contact=details,
    )


def _respond(body: str, status: int) -> Response:
    response = make_response(body, status)
    response.headers.update(HEADERS)
    return response


def _refused(page: RefusalPage) -> Response:
    return _respond(render_template("participant_refused.html", refusal=page), page.status)


class Tries:
    """At most `limit` code tries per address in `window` seconds, and `total` from everyone (in this process).

    With 31^10 possible codes, even the total limit leaves guessing a live one hopeless; the per-address
    limit keeps one visitor from using all of it."""

    def __init__(self, *, limit: int = 10, total: int = 600, window: float = 600.0) -> None:
        self.limit, self.total, self.window = limit, total, window
        self._by_address: dict[str, deque[float]] = {}
        self._all: deque[float] = deque()
        self._lock = threading.Lock()

    def allow(self, address: str, now: float | None = None) -> bool:
        now = time.monotonic() if now is None else now
        with self._lock:
            while self._all and self._all[0] <= now - self.window:
                self._all.popleft()
            for key in [k for k, q in self._by_address.items() if not q or q[-1] <= now - self.window]:
                del self._by_address[key]
            mine = self._by_address.setdefault(address, deque())
            while mine and mine[0] <= now - self.window:
                mine.popleft()
            if len(mine) >= self.limit or len(self._all) >= self.total:
                return False
            mine.append(now)
            self._all.append(now)
            return True


WRONG_CODE = (
    "That code does not open a page. Check it against your letter: it has 10 letters and numbers, like ABCDE-FGHJK."
)
TOO_MANY = "You have tried too many codes. Please wait 10 minutes, then try again."


def register(app: dash.Dash, engine: Engine, *, secret_key: str, tries: Tries | None = None) -> None:
    """`GET {prefix}you/<token>`, and the short-code form `{prefix}you/`, on the dashboard's server; public
    (dashboard/access.py lets ENDPOINT through without sign-in; the form is CSRF-protected like every POST)."""
    prefix = app.config.routes_pathname_prefix
    limiter = tries or Tries()

    def code_form(error: str | None, status: int, code: str = "") -> Response:
        return _respond(render_template("participant_code.html", error=error, code=code), status)

    def by_code() -> Response:
        if request.method == "GET":
            return code_form(None, 200)
        typed = request.form.get("code", "")[:40]
        if not limiter.allow(request.remote_addr or "unknown"):
            return code_form(TOO_MANY, 429, typed)
        try:
            with engine.connect() as conn:
                found = links.open_code(conn, typed, secret_key=secret_key)
        except SQLAlchemyError:
            logger.warning("participant code: the links could not be read", exc_info=True)
            return _refused(UNAVAILABLE)
        if isinstance(found, links.Refusal):
            return code_form(WRONG_CODE, 422, typed)
        response = make_response(redirect(f"{prefix}you/{found}", 303))
        response.headers.update(HEADERS)
        return response

    def participant_page(token: str | None = None) -> Response:
        if token is None:
            return by_code()
        if len(token) > LONGEST_TOKEN:
            return _refused(REFUSALS[links.Refusal.tampered])
        try:
            with engine.connect() as conn:
                opened = links.open_link(conn, token, secret_key=secret_key)
                if isinstance(opened, links.Refusal):
                    return _refused(REFUSALS[opened])
                person = outcomes.person(conn, opened.org_id, opened.participant_id)
                if person is None:  # a link to nobody in the register: as good as not ours
                    return _refused(REFUSALS[links.Refusal.tampered])
                if person.erased:  # nothing personal is left to show, and nothing may be
                    return _refused(REFUSALS[links.Refusal.revoked])
                page = build(
                    outcomes.stories(conn, opened.org_id, opened.participant_id),
                    organisation=contact.contact(conn, opened.org_id),
                    name=person.display_name,
                    expires_on=opened.expires_at.date(),
                )
        except SQLAlchemyError:
            logger.warning("participant page: the read models could not be read", exc_info=True)
            return _refused(UNAVAILABLE)
        words = {"intro": INTRO, "not_decided": NOT_DECIDED, "also_undecided": ALSO_UNDECIDED}
        return _respond(render_template("participant.html", page=page, **words), 200)

    # One endpoint (the public one) for both: the page from its link, and the form that finds it by code.
    app.server.add_url_rule(prefix + "you/", ENDPOINT, participant_page, methods=["GET", "POST"])
    app.server.add_url_rule(prefix + "you/<token>", ENDPOINT, participant_page, methods=["GET"])
