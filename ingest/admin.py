"""Admin pages: the organisation's accounts and API tokens, and new organisations.

Only admins use these pages, and only for their own organisation: an account or token id of another
organisation is "not found". Every change is a POST with the form's CSRF token. A new API token's
secret is shown once, in the response to the form that issued it, and is never stored or flashed
(flashed messages travel in the session cookie, which is signed but readable).

Only admins of an operator organisation (the one that runs the platform, made with
`impact org create ... --operator`) may create a new organisation with its first admin account, in one
transaction; to everyone else the page is a 403 and its link is hidden. Their own account gets no access
to the new organisation's records, accounts or tokens.

A password that an admin types for someone else (a new account, a new organisation's first admin, a new
password, a reactivation) is temporary: the account is marked to change it.

An admin also sets how participants reach the organisation (phone, postal address, reply address, web
address: impact/feedback/contact.py), shown on every feedback e-mail, letter and participant page.

An admin also chooses whether the organisation shares its anonymised rates with other member charities
(benchmarking, dashboard/benchmarking.py): rates only, never counts of people or names, and shown to others
only as a median of at least five organisations. The choice is for their own organisation only.

Ids in paths are bounded to the database's integer range, so a larger one is a 404, not a database error.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any, TypeVar

from flask import Blueprint, Response, abort, flash, redirect, render_template, request, url_for
from flask_login import login_user
from sqlalchemy.exc import IntegrityError
from sqlmodel import Session

from impact.auth.accounts import (
    ADDRESS_TAKEN,
    MAX_EMAIL,
    MAX_NAME,
    MAX_ORG_NAME,
    MIN_PASSWORD_LENGTH,
    AccountError,
    NoSuchRecord,
    Organisation,
    Role,
    account_in,
    account_problems,
    accounts_of,
    create_account,
    create_organisation_with_admin,
    deactivate_account,
    is_operator,
    locked_until,
    organisation_problems,
    reactivate_account,
    set_benchmarking,
    set_password,
    unlock_account,
)
from impact.auth.sessions import CAN_MANAGE, ROLE_LABELS, SignedIn, get_engine, guard, signed_in
from impact.auth.tokens import issue_token, revoke_token, token_in, token_name_problem, tokens_of
from impact.feedback import contact

bp = Blueprint("admin", __name__, url_prefix="/admin")

T = TypeVar("T")

ROLES = [(str(role), *ROLE_LABELS[role].split(": ", 1)) for role in Role]  # (value, name, what they do)
ROLE_NAMES = {value: name for value, name, _ in ROLES}
ACCOUNT_FIELDS = {"email": "E-mail address", "name": "Full name", "role": "Role", "password": "Initial password"}
ORGANISATION_FIELDS = {
    "org_id": "Short name",
    "org_name": "Organisation's full name",
    "email": "First admin's e-mail address",
    "name": "First admin's full name",
    "password": "First admin's initial password",
}
PASSWORD_FIELDS = {"password": "New password"}
TOKEN_FIELDS = {"name": "Token name"}
TAKEN = ADDRESS_TAKEN  # the same words whichever organisation has the address (docs/operations/security.md)
# An id in a path: at most the largest INTEGER of the database, so a larger one is "not found" (404)
# rather than an error from PostgreSQL.
ID = "int(max=2147483647)"


guard(bp, CAN_MANAGE)  # every page here, present and future: sign in first, and be an admin


def _in_own_organisation(action: Callable[[Session], T]) -> T:
    """Run `action` in a transaction and commit; a record of another organisation (or none) is a 404."""
    with Session(get_engine(), expire_on_commit=False) as db:
        try:
            result = action(db)
        except NoSuchRecord:
            abort(404)
        db.commit()
        return result


def _form(*names: str) -> dict[str, str]:
    """The submitted values to show again (never a password)."""
    return {name: request.form.get(name, "").strip() for name in names}


# --- The organisation's accounts and tokens -------------------------------------------------------


@bp.get("/")
def index() -> Any:
    me = signed_in()
    with Session(get_engine()) as db:
        accounts = [
            {"account": account, "locked_until": locked_until(account), "you": account.id == me.account_id}
            for account in accounts_of(session=db, org_id=me.org_id)
        ]
        tokens = tokens_of(session=db, org_id=me.org_id)
        operator = is_operator(session=db, org_id=me.org_id)
        organisation = db.get(Organisation, me.org_id)
        sharing = organisation is not None and organisation.benchmarking
        details = contact.of(organisation, me.org_id)
        for row in accounts:
            db.expunge(row["account"])
        for token in tokens:
            db.expunge(token)
    return render_template(
        "admin_index.html",
        accounts=accounts,
        tokens=tokens,
        role_names=ROLE_NAMES,
        operator=operator,
        sharing=sharing,
        share_choices=SHARE_CHOICES,
        contact=details,
    )


# --- How participants reach the organisation ------------------------------------------------------

CONTACT_FIELDS = {
    "phone": "Phone number",
    "postal_address": "Postal address",
    "reply_email": "Reply e-mail address",
    "website": "Web address (optional)",
}


@bp.route("/contact", methods=["GET", "POST"])
def contact_details() -> Any:
    """The signed-in admin's own organisation's contact details, as participants will see them."""
    me = signed_in()
    errors: dict[str, str] = {}
    if request.method == "POST":
        form = contact.tidy({name: request.form.get(name, "") for name in contact.FIELDS})
        errors = _in_order(contact.contact_problems(form), CONTACT_FIELDS)
        if not errors:
            _in_own_organisation(lambda db: contact.set_contact(session=db, org_id=me.org_id, values=form))
            flash(
                "Your contact details are saved. Every e-mail, letter and participant page shows them from now on.",
                "success",
            )
            return redirect(url_for("admin.index", _anchor="contact-title"), 303)
    else:
        with Session(get_engine()) as db:
            saved = contact.of(db.get(Organisation, me.org_id), me.org_id)
        form = {name: getattr(saved, name) for name in contact.FIELDS}
    return _page(
        "admin_contact_form.html",
        errors,
        fields=CONTACT_FIELDS,
        form=form,
        max_phone=contact.MAX_PHONE,
        max_address=contact.MAX_ADDRESS,
        max_email=contact.MAX_EMAIL,
        max_website=contact.MAX_WEBSITE,
    )


# --- Benchmarking: sharing anonymised rates with other member charities ----------------------------

SHARE_CHOICES = [
    ("yes", "Yes, share our rates", "Leadership then see your rates beside the median of member charities."),
    ("no", "No, do not share them", "Nothing about your organisation is shared, and you see no comparison."),
]
SHARING = (
    "Your organisation now shares its anonymised rates with other member charities. Leadership see your rates "
    "beside the median on the dashboard's overview once at least five member charities take part."
)
NOT_SHARING = (
    "Your organisation does not share its rates: they are in no median that other member charities see, and "
    "your dashboard shows no comparison."
)


@bp.post("/benchmarking")
def benchmarking() -> Any:
    """Opt the signed-in admin's own organisation in to benchmarking, or out of it."""
    me = signed_in()
    choice = request.form.get("share", "")
    if choice not in {value for value, _, _ in SHARE_CHOICES}:
        flash("Choose whether to share your organisation's rates, then save your choice.", "error")
        return redirect(url_for("admin.index", _anchor="benchmarking-title"), 303)
    _in_own_organisation(lambda db: set_benchmarking(session=db, org_id=me.org_id, on=choice == "yes"))
    flash(SHARING if choice == "yes" else NOT_SHARING, "success")
    return redirect(url_for("admin.index"), 303)


@bp.route("/accounts/new", methods=["GET", "POST"])
def new_account() -> Any:
    me = signed_in()
    form = _form("email", "name", "role")
    errors: dict[str, str] = {}
    if request.method == "POST":
        password = request.form.get("password", "")
        with Session(get_engine()) as db:
            errors = account_problems(
                session=db, email=form["email"], name=form["name"], role=form["role"], password=password
            )
            if not form["name"]:
                errors["name"] = "Enter the person's full name."
            errors = _in_order(errors, ACCOUNT_FIELDS)
            if not errors:
                try:
                    account = create_account(
                        session=db,
                        org_id=me.org_id,
                        email=form["email"],
                        name=form["name"],
                        role=form["role"],
                        password=password,
                        must_change_password=True,  # the admin chose it: it is temporary
                    )
                    db.commit()
                except AccountError as exc:
                    errors = {exc.field if exc.field in ACCOUNT_FIELDS else "email": str(exc)}
                except IntegrityError:  # someone else took the address a moment ago
                    db.rollback()
                    errors = {"email": TAKEN}
                else:
                    flash(
                        f"Account created for {account.name} ({account.email}). Give them their temporary "
                        "password in person or by phone, not in the same e-mail as the address of this site; "
                        "they must then choose their own.",
                        "success",
                    )
                    return redirect(url_for("admin.index"), 303)
    return _page(
        "admin_account_form.html",
        errors,
        fields=ACCOUNT_FIELDS,
        form=form,
        roles=ROLES,
        min_password=MIN_PASSWORD_LENGTH,
        max_name=MAX_NAME,
        max_email=MAX_EMAIL,
    )


@bp.post(f"/accounts/<{ID}:account_id>/deactivate")
def deactivate(account_id: int) -> Any:
    me = signed_in()
    try:
        account = _in_own_organisation(
            lambda db: deactivate_account(
                session=db, org_id=me.org_id, account_id=account_id, by_account_id=me.account_id
            )
        )
    except AccountError as exc:
        flash(str(exc), "error")
        return redirect(url_for("admin.index"), 303)
    flash(f"{account.name}'s account is deactivated: they cannot sign in, and were signed out.", "success")
    return redirect(url_for("admin.index"), 303)


@bp.post(f"/accounts/<{ID}:account_id>/unlock")
def unlock(account_id: int) -> Any:
    me = signed_in()
    account = _in_own_organisation(lambda db: unlock_account(session=db, org_id=me.org_id, account_id=account_id))
    flash(f"{account.name}'s account is unlocked: they can try to sign in again now.", "success")
    return redirect(url_for("admin.index"), 303)


@bp.route(f"/accounts/<{ID}:account_id>/password", methods=["GET", "POST"])
def password(account_id: int) -> Any:
    return _new_password(account_id, reactivate=False)


@bp.route(f"/accounts/<{ID}:account_id>/reactivate", methods=["GET", "POST"])
def reactivate(account_id: int) -> Any:
    return _new_password(account_id, reactivate=True)


def _new_password(account_id: int, *, reactivate: bool) -> Any:
    """Set a new password (which also unlocks the account and ends its sessions), or reactivate with one.

    A password set for someone else is temporary (they must change it); one an admin sets for themselves is not.
    """
    me = signed_in()
    errors: dict[str, str] = {}
    with Session(get_engine()) as db:
        try:
            account = account_in(session=db, org_id=me.org_id, account_id=account_id)
        except NoSuchRecord:
            abort(404)
        if request.method == "POST":
            new = request.form.get("password", "")
            try:
                if reactivate:
                    account = reactivate_account(session=db, org_id=me.org_id, account_id=account_id, password=new)
                else:
                    account = set_password(
                        session=db, org_id=me.org_id, account_id=account_id, password=new, by_account_id=me.account_id
                    )
            except AccountError as exc:
                errors = {"password": str(exc)}
            else:
                db.commit()
                if account.id == me.account_id:  # a new password ends sessions: keep this one
                    login_user(SignedIn.of(account))
                    message = "Your password is changed. Your other sessions have ended."
                elif reactivate:
                    message = (
                        f"{account.name}'s account is active again, with the temporary password you set: "
                        "they must then choose their own."
                    )
                else:
                    message = (
                        f"{account.name}'s password is changed to the temporary one you set; their sessions have "
                        "ended, and they must choose their own password."
                    )
                flash(message, "success")
                return redirect(url_for("admin.index"), 303)
        db.expunge(account)
    return _page(
        "admin_password.html",
        errors,
        fields=PASSWORD_FIELDS,
        account=account,
        reactivate=reactivate,
        you=account.id == me.account_id,
        min_password=MIN_PASSWORD_LENGTH,
    )


# --- API tokens ---------------------------------------------------------------------------------


@bp.route("/tokens/new", methods=["GET", "POST"])
def new_token() -> Any:
    me = signed_in()
    form = _form("name")
    errors: dict[str, str] = {}
    if request.method == "POST":
        if problem := token_name_problem(form["name"]):
            errors = {"name": problem}
        else:
            token, secret = _in_own_organisation(
                lambda db: issue_token(session=db, org_id=me.org_id, name=form["name"])
            )
            # Shown in this response only: not flashed, not stored, not cached.
            response = Response(render_template("admin_token_issued.html", token=token, secret=secret))
            response.headers["Cache-Control"] = "no-store"
            return response
    return _page("admin_token_form.html", errors, fields=TOKEN_FIELDS, form=form, max_name=MAX_NAME)


@bp.route(f"/tokens/<{ID}:token_id>/revoke", methods=["GET", "POST"])
def revoke(token_id: int) -> Any:
    me = signed_in()
    if request.method == "GET":  # the confirmation step
        with Session(get_engine()) as db:
            try:
                token = token_in(session=db, org_id=me.org_id, token_id=token_id)
            except NoSuchRecord:
                abort(404)
            db.expunge(token)
        if token.revoked_at is not None:
            flash(f"The token '{token.name}' is already revoked.", "info")
            return redirect(url_for("admin.index"), 303)
        return render_template("admin_revoke.html", token=token)
    token = _in_own_organisation(lambda db: revoke_token(session=db, org_id=me.org_id, token_id=token_id))
    flash(f"The token '{token.name}' is revoked: requests that use it are refused from now on.", "success")
    return redirect(url_for("admin.index"), 303)


# --- New organisations --------------------------------------------------------------------------


@bp.route("/organisations/new", methods=["GET", "POST"])
def new_organisation() -> Any:
    """Bring a charity onto the platform: for admins of an operator organisation only (others get 403)."""
    with Session(get_engine()) as db:
        if not is_operator(session=db, org_id=signed_in().org_id):
            abort(403)
    form = _form("org_id", "org_name", "email", "name")
    form["org_id"] = form["org_id"].lower()
    errors: dict[str, str] = {}
    if request.method == "POST":
        password = request.form.get("password", "")
        with Session(get_engine()) as db:
            found = organisation_problems(session=db, org_id=form["org_id"], name=form["org_name"])
            if "name" in found:
                found["org_name"] = found.pop("name")
            found |= account_problems(
                session=db, email=form["email"], name=form["name"], role=Role.admin, password=password
            )
            if not form["name"]:
                found["name"] = "Enter the first admin's full name."
            errors = _in_order(found, ORGANISATION_FIELDS)
            if not errors:
                try:
                    organisation, account = create_organisation_with_admin(
                        session=db,
                        org_id=form["org_id"],
                        name=form["org_name"],
                        admin_email=form["email"],
                        admin_name=form["name"],
                        password=password,
                        must_change_password=True,  # the operator chose it: it is temporary
                    )
                    db.commit()
                except AccountError as exc:
                    db.rollback()
                    field = {"name": "org_name", "admin_email": "email", "admin_name": "name"}.get(
                        exc.field or "", exc.field or "org_id"
                    )
                    errors = {field if field in ORGANISATION_FIELDS else "org_id": str(exc)}
                except IntegrityError:  # created by someone else a moment ago
                    db.rollback()
                    errors = {"org_id": "That organisation or e-mail address was taken a moment ago: check both."}
                else:
                    flash(
                        f"Organisation {organisation.name} ({organisation.org_id}) is created, with its first "
                        f"admin {account.email}. Give them the temporary password you set, in person or by phone: "
                        "they must then choose their own. Your account has no access to the organisation.",
                        "success",
                    )
                    return redirect(url_for("admin.index"), 303)
    return _page(
        "admin_organisation_form.html",
        errors,
        fields=ORGANISATION_FIELDS,
        form=form,
        min_password=MIN_PASSWORD_LENGTH,
        max_name=MAX_NAME,
        max_org_name=MAX_ORG_NAME,
        max_email=MAX_EMAIL,
    )


# --- Helpers ------------------------------------------------------------------------------------


def _in_order(errors: dict[str, str], fields: dict[str, str]) -> dict[str, str]:
    """The errors in the order of the fields on the page, so the summary reads top to bottom."""
    return {name: errors[name] for name in fields if name in errors}


def _page(template: str, errors: dict[str, str], **context: Any) -> tuple[str, int]:
    """A form page: 200, or 422 when it is shown again with errors."""
    return render_template(template, errors=errors, **context), 422 if errors else 200
