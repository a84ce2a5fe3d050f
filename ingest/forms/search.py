"""Search for the pickers of the staff forms: matches as JSON for forms.js, and the same without JavaScript.

With JavaScript, a picker's search box asks `GET /staff/search/<kind>?q=…` as one types and adds a box to
tick for each match. Without it, the picker's "Search" button posts the form here (`/staff/search/pick`);
this answers with a redirect back to the form's own page, carrying what was ticked and the search, and the
picker macro (`_field.html`) lists the matches beside what was ticked. Nothing here records anything.

Every answer is about the signed-in person's organisation only (the blueprint's guard: signed in, with a
role that records).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any
from urllib.parse import quote, urlencode, urlsplit

from flask import current_app, jsonify, redirect, request, url_for
from flask.sansio.blueprints import BlueprintSetupState

from impact.auth.sessions import get_engine, safe_next
from ingest import lookups
from ingest.forms.common import bp, org_id
from schemas.vocab import label

MATCHES = 25  # matches a search adds to a picker
FIND = {"participants": "find-participants", "links": "find-links"}  # each picker's search box
CARRIED = ("new", "activity_id")  # references a form's page is opened with (never free text: it would be logged)
TOO_LONG = f"Search for {lookups.QUERY_LENGTH} characters or fewer."


def contribution_url(contribution_id: str) -> str:
    """A contribution's own page: its record page when the application has one, else its address."""
    if "forms.contribution" in current_app.view_functions:
        return url_for("forms.contribution", contribution_id=contribution_id)
    return f"{request.script_root}/staff/contributions/{quote(contribution_id, safe='')}"


def _asked() -> tuple[str, str]:
    """The search of `?q=`, tidied, and what is wrong with it ("" if nothing)."""
    query = " ".join(request.args.get("q", "").split())
    if len(query) > lookups.QUERY_LENGTH:
        return "", TOO_LONG
    if not lookups.words(query):
        return "", "Type part of a name or a reference to search."
    return query, ""


def _message(count: int, more: bool) -> str:
    if count == 0:
        return "No matches."
    return f"{count}{'+' if more else ''} match{'' if count == 1 and not more else 'es'}."


@bp.get("/search/participants")
def search_participants() -> Any:
    query, error = _asked()
    if error:
        return jsonify(query="", matches=[], more=False, message=error), 400
    found = lookups.participants(get_engine(), org_id(), query=query, limit=MATCHES + 1)
    more = len(found) > MATCHES
    matches = [
        {"id": p.participant_id, "name": p.display_name or p.participant_id, "reference": p.participant_id}
        for p in found[:MATCHES]
    ]
    return jsonify(query=query, matches=matches, more=more, message=_message(len(matches), more))


@bp.get("/search/contributions")
def search_contributions() -> Any:
    query, error = _asked()
    if error:
        return jsonify(query="", matches=[], more=False, message=error), 400
    found = lookups.contributions(get_engine(), org_id(), query=query, limit=MATCHES + 1)
    more = len(found) > MATCHES
    matches = [
        {
            "id": item.contribution.contribution_id,
            "text": item.contribution.text,
            "people": item.people,
            "made_on": f"{item.contribution.made_on:%-d %b %Y}",
            "area": label(item.contribution.area),
        }
        for item in found[:MATCHES]
    ]
    return jsonify(query=query, matches=matches, more=more, message=_message(len(matches), more))


@bp.post("/search/pick")
def pick() -> Any:
    """A picker's search without JavaScript: back to the form's page (a page of this blueprint), carrying what
    was ticked and the search. What else was typed is not carried: it would sit in an address, and in logs."""
    back = safe_next(request.form.get("picker-back"), url_for("forms.index"))
    path = urlsplit(back).path
    if not path.startswith(f"{request.script_root}/staff/"):
        path = url_for("forms.index")
    field = request.form.get("picker-search", "")
    if field not in FIND:
        field = "participants"
    kept = [(field, value[:64]) for value in request.form.getlist(field) if value][:500]
    kept += [(name, request.form.get(name, "")[:500]) for name in CARRIED if request.form.get(name)]
    kept += [
        (FIND[field], " ".join(request.form.get(FIND[field], "").split())[: lookups.QUERY_LENGTH]),
        ("picked", "1"),
    ]
    return redirect(f"{path}?{urlencode(kept)}#{field}-search", code=303)


@bp.record_once
def _globals(state: BlueprintSetupState) -> None:
    """What the picker macros need beyond what a form's view gives them (see the module's docstring), as
    template globals: `_field.html`'s macros are imported without the page's context."""
    state.app.jinja_env.globals.update(picker=Picker(), contribution_url=contribution_url)


class Picker:
    """For a picker macro: the rows to list, given what the view passed, what is ticked and the search."""

    shown = lookups.PICKER_LIMIT
    matches = MATCHES
    query_length = lookups.QUERY_LENGTH

    @staticmethod
    def carried(name: str) -> list[str]:
        """What was ticked, carried in the address by a search without JavaScript."""
        if request.method != "GET" or not request.args.get("picked"):
            return []
        return [value for value in request.args.getlist(name) if value][:500]

    @staticmethod
    def query(field: str) -> str:
        """The search of a picker without JavaScript (from the address), tidied."""
        if request.method != "GET":
            return ""
        return " ".join(request.args.get(FIND[field], "").split())[: lookups.QUERY_LENGTH]

    def participants(self, people: list[Any], chosen: list[str], query: str) -> Listed:
        """What a participant picker lists: what is ticked, then the search's matches (or, with no search, the
        first `shown` of the view's list)."""
        engine, org = get_engine(), org_id()
        if lookups.words(query):
            found = lookups.participants(engine, org, query=query, limit=MATCHES + 1)
            more, listed = len(found) > MATCHES, found[:MATCHES]
        else:
            more, listed = len(people) > self.shown, list(people[: self.shown])
        have = {p.participant_id for p in listed}
        missing = [p for p in dict.fromkeys(chosen) if p not in have]
        ticked = lookups.participants(engine, org, including=missing, limit=0) if missing else []
        return Listed(ticked + listed, more, len(listed), bool(more or query))

    def contributions(self, said: list[Any], chosen: list[str], query: str) -> Listed:
        """What a contribution picker lists (as `participants`, newest first)."""
        engine, org = get_engine(), org_id()
        if lookups.words(query):
            found = lookups.contributions(engine, org, query=query, limit=MATCHES + 1)
            more, listed = len(found) > MATCHES, found[:MATCHES]
        else:
            more, listed = len(said) > self.shown, list(said[: self.shown])
        have = {item.contribution.contribution_id for item in listed}
        missing = [c for c in dict.fromkeys(chosen) if c not in have]
        ticked = lookups.contributions(engine, org, including=missing, limit=0) if missing else []
        return Listed(ticked + listed, more, len(listed), bool(more or query))


@dataclass(frozen=True)
class Listed:
    """A picker's rows; whether there are more than it lists; how many of them matched the search; and whether
    it searches the server (there are more than it lists, or it is showing a search)."""

    rows: list[Any]
    more: bool
    matched: int
    searching: bool
