"""The staff start page and the lists of the organisation's records."""

from __future__ import annotations

from typing import Any

from flask import render_template

from impact.auth.sessions import get_engine
from ingest import lookups
from ingest.forms.common import bp, org_id


@bp.get("/")
def index() -> Any:
    return render_template("staff_index.html", counts=lookups.counts(get_engine(), org_id()))


@bp.get("/participants")
def participants() -> Any:
    return render_template("participants.html", participants=lookups.participants(get_engine(), org_id()))


@bp.get("/activities")
def activities() -> Any:
    return render_template("activities.html", activities=lookups.activities(get_engine(), org_id()))


@bp.get("/changes")
def changes() -> Any:
    return render_template("changes.html", changes=lookups.changes(get_engine(), org_id()))
