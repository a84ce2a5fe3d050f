"""The start page (what the signed-in person can do here, by role) and choosing one's own password."""

from __future__ import annotations

from typing import Any

from flask import Blueprint, flash, redirect, render_template, request, url_for
from flask_login import login_user
from sqlmodel import Session

from impact.auth.accounts import AccountError, Role, change_own_password
from impact.auth.sessions import SignedIn, get_engine, roles_required, safe_next, signed_in
from ingest import get_settings

bp = Blueprint("pages", __name__)
EVERYONE = frozenset(Role)


@bp.get("/")
@roles_required(EVERYONE)
def home() -> Any:
    host = request.host.rsplit(":", 1)[0] if not request.host.endswith("]") else request.host
    dashboard_url = f"{request.scheme}://{host}:{get_settings().dashboard_port}/"
    return render_template("home.html", dashboard_url=dashboard_url)


PASSWORD_FIELDS = {"current_password": "Current password", "new_password": "New password"}


@bp.route("/account/password", methods=["GET", "POST"])
@roles_required(EVERYONE)
def password() -> Any:
    """Choose one's own password: required first when someone else set it (a temporary password)."""
    me = signed_in()
    errors: dict[str, str] = {}
    status = 200
    if request.method == "POST":
        with Session(get_engine()) as db:
            try:
                account = change_own_password(
                    session=db,
                    account_id=me.account_id,
                    current_password=request.form.get("current_password", ""),
                    new_password=request.form.get("new_password", ""),
                )
            except AccountError as exc:
                db.commit()  # a wrong current password counts towards the lock
                errors[exc.field or "current_password"] = str(exc)
                status = 422
            else:
                db.commit()
                login_user(SignedIn.of(account))  # the new password ended the old session
                flash("Your new password is set.", "success")
                return redirect(safe_next(request.args.get("next"), url_for("pages.home")))
    response = render_template("password.html", errors=errors, labels=PASSWORD_FIELDS, forced=me.must_change)
    return response, status, {"Cache-Control": "no-store"}
