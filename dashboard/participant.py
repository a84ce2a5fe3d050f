"""The participant's own page: `GET /you/<token>`, opened from a private link, with no sign-in.

Participants have no account: the token (impact/feedback/links.py: signed, expiring, revocable, with nothing
personal in it) is the only key. The page lists everything the person told the organisation, newest first,
and what came of each: the changes it is linked to, in the same words as the "you made a difference"
e-mails (impact/feedback/summaries.py). Only this person's own data is read (impact/feedback/outcomes.py
scopes every query to the link's organisation and participant): a joint contribution's words are theirs too,
but the other people who made it are never named.

A link that does not open gets a page that says so and what to do, and nothing else: never whose link it
was. Tampered (or never made here): 404. Expired: 410. Revoked, or the person's details were erased: 410.
Every one of these pages is `no-store`, sends no referrer (the token is in the URL) and asks search
engines not to index it. Plain Jinja with autoescape: free text is escaped, never marked safe.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from datetime import date

import dash
from flask import Response, make_response, render_template
from sqlalchemy import Engine
from sqlalchemy.exc import SQLAlchemyError

from impact.feedback import links, outcomes
from impact.feedback.outcomes import Decision, Said, Story
from impact.feedback.summaries import day, influence, what_happened
from schemas.vocab import label

logger = logging.getLogger(__name__)

ENDPOINT = "participant_page"  # public: dashboard/access.py lets it through without sign-in
LONGEST_TOKEN = 512  # ours are about 60 characters; anything far longer is not one of ours

INTRO = "Here is everything you have told us, and what came of it."
NOT_DECIDED = "We have not decided anything about this yet. We will let you know."
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
    description: str
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
    entries: tuple[Entry, ...]
    link_works_until: str


def _outcome(decision: Decision, strength: str) -> Outcome:
    return Outcome(
        title=decision.title,
        description=decision.description,
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


def build(stories: list[Story], *, organisation: str, name: str | None, expires_on: date) -> ParticipantPage:
    """The page's content (stories come newest first from impact.feedback.outcomes.stories)."""
    return ParticipantPage(
        organisation=organisation,
        name=name,
        entries=tuple(_entry(story) for story in stories),
        link_works_until=day(expires_on),
    )


def _respond(body: str, status: int) -> Response:
    response = make_response(body, status)
    response.headers.update(HEADERS)
    return response


def _refused(page: RefusalPage) -> Response:
    return _respond(render_template("participant_refused.html", refusal=page), page.status)


def register(app: dash.Dash, engine: Engine, *, secret_key: str) -> None:
    """`GET {prefix}you/<token>` on the dashboard's server; public (dashboard/access.py lets ENDPOINT through)."""
    prefix = app.config.routes_pathname_prefix

    @app.server.get(prefix + "you/<token>", endpoint=ENDPOINT)
    def participant_page(token: str) -> Response:
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
                    organisation=outcomes.organisation_name(conn, opened.org_id),
                    name=person.display_name,
                    expires_on=opened.expires_at.date(),
                )
        except SQLAlchemyError:
            logger.warning("participant page: the read models could not be read", exc_info=True)
            return _refused(UNAVAILABLE)
        words = {"intro": INTRO, "not_decided": NOT_DECIDED, "also_undecided": ALSO_UNDECIDED}
        return _respond(render_template("participant.html", page=page, **words), 200)
