"""Admin pages: the organisation's accounts and API tokens, and new organisations."""

from __future__ import annotations

from typing import Any

from flask import Blueprint, render_template

from impact.web import CAN_MANAGE, roles_required

bp = Blueprint("admin", __name__, url_prefix="/admin")


@bp.get("/")
@roles_required(CAN_MANAGE)
def index() -> Any:
    return render_template("error.html", code=501, title="Accounts and tokens", message="Not built yet."), 501
