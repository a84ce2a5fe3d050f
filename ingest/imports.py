"""Spreadsheet import: CSV or Excel files of participants, attendance or contributions."""

from __future__ import annotations

from typing import Any

from flask import Blueprint, render_template

from impact.web import CAN_LOG, roles_required

bp = Blueprint("imports", __name__, url_prefix="/staff/import")


@bp.get("/")
@roles_required(CAN_LOG)
def index() -> Any:
    return render_template("error.html", code=501, title="Import", message="Not built yet."), 501
