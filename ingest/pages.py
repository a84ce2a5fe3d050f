"""The start page: what the signed-in person can do here, by role."""

from __future__ import annotations

from typing import Any

from flask import Blueprint, render_template, request

from impact.accounts import Role
from impact.web import roles_required
from ingest import get_settings

bp = Blueprint("pages", __name__)


@bp.get("/")
@roles_required(frozenset(Role))
def home() -> Any:
    host = request.host.rsplit(":", 1)[0] if not request.host.endswith("]") else request.host
    dashboard_url = f"{request.scheme}://{host}:{get_settings().dashboard_port}/"
    return render_template("home.html", dashboard_url=dashboard_url)
