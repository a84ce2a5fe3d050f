"""The start page (what the signed-in person can do here, by role), choosing one's own password, and the links
to the dashboard that every staff page's header carries for a role that may read it (no second sign-in)."""

from __future__ import annotations

from typing import Any, cast

from flask import Blueprint, flash, redirect, render_template, request, url_for
from flask_login import current_user, login_user
from sqlmodel import Session

from impact.auth.accounts import AccountError, Role, change_own_password
from impact.auth.sessions import SignedIn, cross_links, get_engine, roles_required, safe_next, signed_in

bp = Blueprint("pages", __name__)
EVERYONE = frozenset(Role)


@bp.app_context_processor
def service_links() -> dict[str, Any]:
    """The dashboard's address on this host (the session cookie goes with it), for whoever may read it."""
    person = cast(Any, current_user)._get_current_object()  # None outside a request
    return {"service_links": cross_links(person if isinstance(person, SignedIn) else None)}


@bp.get("/")
@roles_required(EVERYONE)
def home() -> Any:
    return render_template("home.html")


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
