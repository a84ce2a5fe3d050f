"""The staff start page and the lists of the organisation's records: each searchable, a page at a time."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from flask import render_template, request

from impact.auth.sessions import get_engine
from ingest import lookups
from ingest.forms.common import bp, org_id

TOO_LONG = f"Search for {lookups.QUERY_LENGTH} characters or fewer."
LAST_PAGE = 10_000  # no list has more pages than this; a bigger number is someone's typing


@dataclass(frozen=True)
class Search:
    """What a list was asked for: the search (empty for everything), the page, and what was wrong with them."""

    query: str
    page: int
    error: str = ""


def search_of(args: Any) -> Search:
    """The search box's text and the page number of a list's address, checked (never an error page)."""
    query = " ".join(str(args.get("q", "")).split())
    error = ""
    if len(query) > lookups.QUERY_LENGTH:
        query, error = query[: lookups.QUERY_LENGTH], TOO_LONG
    raw = str(args.get("page", "1")).strip()
    page = int(raw) if raw.isascii() and raw.isdigit() and len(raw) < 6 else 1
    return Search(query, min(max(page, 1), LAST_PAGE), error)


def render_list(template: str, page: lookups.Page[Any], asked: Search, noun: str) -> tuple[str, int]:
    context = {"page": page, "search": asked, "noun": noun, "query_length": lookups.QUERY_LENGTH}
    return render_template(template, **context), 400 if asked.error else 200


@bp.get("/")
def index() -> Any:
    return render_template("staff_index.html", counts=lookups.counts(get_engine(), org_id()))


@bp.get("/participants")
def participants() -> Any:
    asked = search_of(request.args)
    found = lookups.participant_page(get_engine(), org_id(), query=asked.query, page=asked.page)
    return render_list("participants.html", found, asked, "participant")


@bp.get("/activities")
def activities() -> Any:
    asked = search_of(request.args)
    found = lookups.activity_page(get_engine(), org_id(), query=asked.query, page=asked.page)
    return render_list("activities.html", found, asked, "activity")


@bp.get("/contributions")
def contributions() -> Any:
    asked = search_of(request.args)
    found = lookups.contribution_page(get_engine(), org_id(), query=asked.query, page=asked.page)
    return render_list("contributions.html", found, asked, "contribution")


@bp.get("/changes")
def changes() -> Any:
    asked = search_of(request.args)
    found = lookups.change_page(get_engine(), org_id(), query=asked.query, page=asked.page)
    return render_list("changes.html", found, asked, "change")
