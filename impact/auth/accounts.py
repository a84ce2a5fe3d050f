"""Organisations, staff accounts and API tokens: who may record and read, for which organisation.

Passwords are hashed with scrypt (Werkzeug's default; the tests choose one round of PBKDF2 through
IMPACT_PASSWORD_HASHING=fast, which production settings refuse); API tokens are random secrets stored only
as SHA-256 hashes. Sign-in never locks an account: failed sign-ins pause the client that made them
(impact/auth/throttle.py), and every refusal is the same sentence after exactly one password check (against a
dummy hash when no account matches), so an address cannot be found out by the answer or its time. A wrong
current password when changing one's own password (the person is signed in) counts towards a lock of that
form: each such check is claimed in the database before it is made, so parallel attempts cannot make more than
LOCK_AFTER_FAILURES checks per lock window.

An operator organisation runs the platform: its admins may create other organisations. A password that
someone else set (an admin, for a new account, a reset or a reactivation) is temporary: the account is
marked `must_change_password` until its owner chooses their own with `change_own_password`.
"""

from __future__ import annotations

import re
from datetime import UTC, datetime, timedelta
from enum import StrEnum
from functools import cache
from typing import TYPE_CHECKING, Any

from sqlalchemy import false, update
from sqlmodel import Field, Session, SQLModel, col, select
from werkzeug.security import check_password_hash, generate_password_hash

if TYPE_CHECKING:
    from impact.auth.throttle import Throttle
    from impact.settings import Settings

MIN_PASSWORD_LENGTH = 12
LOCK_AFTER_FAILURES = 5
LOCK_FOR = timedelta(minutes=15)
# Werkzeug's method string per IMPACT_PASSWORD_HASHING; checking reads the method from the stored hash.
_HASHING_METHODS = {"scrypt": "scrypt", "fast": "pbkdf2:sha256:1"}
_hashing = {"method": _HASHING_METHODS["scrypt"]}


def configure(settings: Settings) -> None:
    """Hash new passwords the way the settings say, in this process (scrypt unless told otherwise).

    Called by the command line before a service starts (gunicorn's workers inherit it) and by the tests.
    """
    _hashing["method"] = _HASHING_METHODS[str(settings.password_hashing)]


def hash_password(password: str) -> str:
    return generate_password_hash(password, method=_hashing["method"])


@cache
def _dummy_hash(method: str) -> str:
    """Checked when no account matches, so a wrong e-mail address takes as long as a wrong password."""
    return generate_password_hash("not a password of anyone's", method=method)


class Role(StrEnum):
    staff = "staff"  # log involvement
    leadership = "leadership"  # read the dashboard
    admin = "admin"  # manage the organisation's accounts and API tokens (and log involvement)


class AccountError(ValueError):
    """A request about accounts that cannot be met, with a message a person can act on.

    `field` names the input the message is about (for example "email"), so a form can show it there.
    """

    def __init__(self, message: str, *, field: str | None = None) -> None:
        super().__init__(message)
        self.field = field


class NoSuchRecord(AccountError):
    """The account or token does not exist, or belongs to another organisation (which is the same to you)."""


def _now() -> datetime:
    return datetime.now(UTC)


def _aware(moment: datetime) -> datetime:
    """SQLite returns naive datetimes; everything here is UTC."""
    return moment if moment.tzinfo else moment.replace(tzinfo=UTC)


class Organisation(SQLModel, table=True):
    org_id: str = Field(primary_key=True, max_length=40)
    name: str = Field(max_length=200)
    # Runs the platform: its admins may create organisations. Set only from the command line.
    operator: bool = Field(default=False, sa_column_kwargs={"server_default": false()})
    # Shares its rates (never counts or its name) with other member charities as a median of at least five.
    benchmarking: bool = Field(default=False, sa_column_kwargs={"server_default": false()})
    # How participants reach the charity: shown on every e-mail, letter and participant page. Set by its
    # admins (impact/auth/contact.py checks them); empty until then.
    phone: str = Field(default="", max_length=40, sa_column_kwargs={"server_default": ""})
    postal_address: str = Field(default="", max_length=300, sa_column_kwargs={"server_default": ""})
    reply_email: str = Field(default="", max_length=320, sa_column_kwargs={"server_default": ""})
    website: str = Field(default="", max_length=200, sa_column_kwargs={"server_default": ""})
    created_at: datetime = Field(default_factory=_now)


class StaffAccount(SQLModel, table=True):
    id: int | None = Field(default=None, primary_key=True)
    org_id: str = Field(index=True, max_length=40, foreign_key="organisation.org_id")
    email: str = Field(unique=True, max_length=320)
    name: str = Field(max_length=120)
    role: str = Field(max_length=20)
    password_hash: str = Field(max_length=300)
    failed_logins: int = 0
    locked_until: datetime | None = None
    active: bool = True
    # The password was set by someone else (it is temporary): its owner must choose their own.
    must_change_password: bool = Field(default=False, sa_column_kwargs={"server_default": false()})
    # Sessions name it: signing out moves it on, so a copy of a session cookie ends with the session.
    session_epoch: int = Field(default=0, sa_column_kwargs={"server_default": "0"})
    created_at: datetime = Field(default_factory=_now)


_ORG_ID = re.compile(r"[a-z0-9][a-z0-9-]{1,39}")
_EMAIL = re.compile(r"[^@\s]+@[^@\s]+\.[^@\s]+")
MAX_NAME = 120  # a person's or a token's name (the column's size)
MAX_ORG_NAME = 200
MAX_EMAIL = 320


def _first(problems: dict[str, str]) -> None:
    """Raise the first problem, if any, as an AccountError about its field."""
    for field, message in problems.items():
        raise AccountError(message, field=field)


def organisation_problems(*, session: Session, org_id: str, name: str) -> dict[str, str]:
    """Everything wrong with a new organisation, by field ("org_id", "name"); empty if it can be created."""
    problems: dict[str, str] = {}
    if not _ORG_ID.fullmatch(org_id):
        problems["org_id"] = "Use 2 to 40 lower-case letters, digits or hyphens for the organisation's short name."
    elif session.get(Organisation, org_id):
        problems["org_id"] = f"An organisation called '{org_id}' already exists."
    if not name.strip():
        problems["name"] = "Enter the organisation's name."
    elif len(name.strip()) > MAX_ORG_NAME:
        problems["name"] = f"Use at most {MAX_ORG_NAME} characters for the organisation's name."
    return problems


def create_organisation(*, session: Session, org_id: str, name: str, operator: bool = False) -> Organisation:
    """A new organisation; an `operator` one runs the platform (its admins may create organisations)."""
    _first(organisation_problems(session=session, org_id=org_id, name=name))
    organisation = Organisation(org_id=org_id, name=name.strip(), operator=operator)
    session.add(organisation)
    session.flush()
    return organisation


def is_operator(*, session: Session, org_id: str) -> bool:
    """Whether the organisation runs the platform, so that its admins may create organisations."""
    organisation = session.get(Organisation, org_id)
    return organisation is not None and organisation.operator


def set_benchmarking(*, session: Session, org_id: str, on: bool) -> Organisation:
    """Opt the organisation in to (or out of) benchmarking: its rates join the medians other members see.

    Only its rates are shared, never counts of people or its name, and only as a median over at least five
    organisations (dashboard/benchmarking.py). Opting out takes effect at the next page other members open.
    """
    organisation = session.get(Organisation, org_id)
    if organisation is None:
        raise NoSuchRecord(f"There is no organisation called '{org_id}'.")
    organisation.benchmarking = on
    session.add(organisation)
    session.flush()
    return organisation


def _password_problem(password: str) -> str | None:
    if len(password) < MIN_PASSWORD_LENGTH:
        return f"Use a password of at least {MIN_PASSWORD_LENGTH} characters."
    return None


# One address is one sign-in, across organisations, so a new account cannot take an address in use. The refusal
# is the same whether the address is an account of the admin's own organisation or of another one, and names
# neither the organisation nor the account (docs/operations/security.md, "Accounts cannot be found out").
ADDRESS_TAKEN = "An account with that e-mail address already exists."


def account_problems(*, session: Session, email: str, name: str, role: Role | str, password: str) -> dict[str, str]:
    """Everything wrong with a new account, by field ("email", "name", "role", "password")."""
    problems: dict[str, str] = {}
    email = email.strip().lower()
    if not _EMAIL.fullmatch(email) or len(email) > MAX_EMAIL:
        problems["email"] = "Enter an e-mail address like name@example.org."
    elif session.exec(select(StaffAccount).where(StaffAccount.email == email)).first():
        problems["email"] = ADDRESS_TAKEN  # the same words whichever organisation has it: see ADDRESS_TAKEN
    if len(name.strip()) > MAX_NAME:
        problems["name"] = f"Use at most {MAX_NAME} characters for the name."
    if role not in set(Role):
        problems["role"] = f"Choose a role: {', '.join(Role)}."
    if problem := _password_problem(password):
        problems["password"] = problem
    return problems


def create_account(
    *,
    session: Session,
    org_id: str,
    email: str,
    name: str,
    role: Role | str,
    password: str,
    must_change_password: bool = False,
) -> StaffAccount:
    """A new account. Pass `must_change_password=True` when someone other than its owner chose the password."""
    email = email.strip().lower()
    if not session.get(Organisation, org_id):
        raise AccountError(f"There is no organisation called '{org_id}'.", field="org_id")
    _first(account_problems(session=session, email=email, name=name, role=role, password=password))
    account = StaffAccount(
        org_id=org_id,
        email=email,
        name=name.strip() or email,
        role=str(role),
        password_hash=hash_password(password),
        must_change_password=must_change_password,
    )
    session.add(account)
    session.flush()
    return account


def create_organisation_with_admin(
    *,
    session: Session,
    org_id: str,
    name: str,
    admin_email: str,
    admin_name: str,
    password: str,
    must_change_password: bool = False,
    operator: bool = False,
) -> tuple[Organisation, StaffAccount]:
    """A new organisation and its first admin, in the caller's transaction (commit once, or neither exists).

    Pass `must_change_password=True` when the password was chosen by someone other than the admin (an
    operator on the admin pages). An AccountError's `field` is the name of the argument it is about
    (for example "admin_email").
    """
    organisation = create_organisation(session=session, org_id=org_id, name=name, operator=operator)
    try:
        account = create_account(
            session=session,
            org_id=org_id,
            email=admin_email,
            name=admin_name,
            role=Role.admin,
            password=password,
            must_change_password=must_change_password,
        )
    except AccountError as exc:
        field = {"email": "admin_email", "name": "admin_name"}.get(exc.field or "", exc.field)
        raise AccountError(str(exc), field=field) from exc
    return organisation, account


# --- Managing an organisation's accounts --------------------------------------------------------


def accounts_of(*, session: Session, org_id: str) -> list[StaffAccount]:
    """The organisation's accounts, by name."""
    query = select(StaffAccount).where(StaffAccount.org_id == org_id)
    return list(session.exec(query.order_by(col(StaffAccount.name), col(StaffAccount.email))).all())


def account_in(*, session: Session, org_id: str, account_id: int) -> StaffAccount:
    """One of the organisation's accounts; another organisation's account does not exist for you."""
    account = session.get(StaffAccount, account_id)
    if account is None or account.org_id != org_id:
        raise NoSuchRecord("There is no such account.")
    return account


def locked_until(account: StaffAccount, now: datetime | None = None) -> datetime | None:
    """When the account's sign-in lock ends (UTC), or None if it is not locked now."""
    if account.locked_until is None:
        return None
    until = _aware(account.locked_until)
    return until if until > (now or _now()) else None


def deactivate_account(*, session: Session, org_id: str, account_id: int, by_account_id: int) -> StaffAccount:
    """The account can no longer sign in, and its sessions end at their next request."""
    account = account_in(session=session, org_id=org_id, account_id=account_id)
    if account.id == by_account_id:
        raise AccountError("You cannot deactivate your own account. Ask another admin of your organisation.")
    account.active = False
    session.add(account)
    session.flush()
    return account


def set_password(
    *, session: Session, org_id: str, account_id: int, password: str, by_account_id: int | None = None
) -> StaffAccount:
    """A new password for the account: it also lifts a sign-in lock and ends the account's sessions.

    `by_account_id` is the account of the admin who sets it: a password set for someone else (or with no
    `by_account_id`) is temporary, so the account must change it; one an admin sets for themselves is not.
    """
    account = account_in(session=session, org_id=org_id, account_id=account_id)
    if problem := _password_problem(password):
        raise AccountError(problem, field="password")
    account.password_hash = hash_password(password)
    account.failed_logins, account.locked_until = 0, None
    account.must_change_password = account.id != by_account_id
    session.add(account)
    session.flush()
    return account


def reactivate_account(*, session: Session, org_id: str, account_id: int, password: str) -> StaffAccount:
    """The account may sign in again, with a new password (temporary: set by an admin for someone else).

    The new password is required so that a session from before the account was deactivated (the session
    names a fragment of the password hash) does not come back to life.
    """
    account = set_password(session=session, org_id=org_id, account_id=account_id, password=password)
    account.active = True
    session.add(account)
    session.flush()
    return account


def end_sessions(*, session: Session, account_id: int) -> None:
    """End every session of the account (signing out): each names the epoch this moves on from."""
    statement = (
        update(StaffAccount)
        .where(col(StaffAccount.id) == account_id)
        .values(session_epoch=col(StaffAccount.session_epoch) + 1)
        .execution_options(synchronize_session=False)
    )
    session.exec(statement)


def unlock_account(*, session: Session, org_id: str, account_id: int) -> StaffAccount:
    """Lift a lock from repeated failed sign-ins before it ends by itself."""
    account = account_in(session=session, org_id=org_id, account_id=account_id)
    account.failed_logins, account.locked_until = 0, None
    session.add(account)
    session.flush()
    return account


WRONG_CREDENTIALS = "The e-mail address or password is not right."  # changing one's own password
# Every refused sign-in: a wrong password, an unknown or deactivated address, or a paused client.
SIGN_IN_REFUSED = (
    "The e-mail address or password is not right, or there were too many tries: wait a minute and try again."
)


def _too_many(until: datetime, now: datetime, field: str | None = None) -> AccountError:
    minutes = max(1, int((until - now).total_seconds() // 60))
    return AccountError(f"Too many attempts: try again in {minutes} minute{'s' if minutes != 1 else ''}.", field=field)


def _write(session: Session, account: StaffAccount, **values: Any) -> Any:
    """UPDATE the account's row in the database (not from the values loaded in Python); returns the row after it.

    The attributes written are expired on `account`, so they are read again from the database when used.
    """
    statement = (
        update(StaffAccount)
        .where(col(StaffAccount.id) == account.id)
        .values(**values)
        .returning(
            col(StaffAccount.failed_logins),
            col(StaffAccount.locked_until),
            col(StaffAccount.password_hash),
            col(StaffAccount.active),
        )
        .execution_options(synchronize_session=False)
    )
    row = session.exec(statement).one()
    session.expire(account, list(values))
    return row


def _check_password(
    *, session: Session, account: StaffAccount, password: str, now: datetime, field: str | None = None
) -> bool:
    """Whether `password` is the account's, counting the check towards the sign-in lock.

    The check is claimed in the database before it is made: `failed_logins = failed_logins + 1 ... RETURNING`
    gives each attempt its own number even when attempts run in parallel, and one numbered beyond
    LOCK_AFTER_FAILURES is refused without a check (so at most that many checks happen per lock window).
    On PostgreSQL the UPDATE also holds the row lock (on SQLite, the database's write lock) until the caller
    commits, so parallel attempts queue and each sees the lock or the new password of the one before.
    A right password resets the count; the attempt that uses up the window locks the account.

    Refuses with "Too many attempts" (an AccountError about `field`) while the account is locked.
    The caller commits in both cases: a failure must count.
    """
    if until := locked_until(account, now):  # already locked: refused without a write
        raise _too_many(until, now, field)
    count, until, password_hash, active = _write(session, account, failed_logins=col(StaffAccount.failed_logins) + 1)
    if until is not None:
        if _aware(until) > now:  # locked by an attempt that finished while this one waited
            raise _too_many(_aware(until), now, field)
        count, *_ = _write(session, account, failed_logins=1, locked_until=None)  # a new window: the first attempt
    if count > LOCK_AFTER_FAILURES:  # the window's checks are all claimed
        _write(session, account, locked_until=now + LOCK_FOR)
        raise _too_many(now + LOCK_FOR, now, field)
    if active and check_password_hash(password_hash, password):
        _write(session, account, failed_logins=0, locked_until=None)
        return True
    if count >= LOCK_AFTER_FAILURES:
        _write(session, account, locked_until=now + LOCK_FOR)
    return False


def authenticate(
    *,
    session: Session,
    email: str,
    password: str,
    client: str = "",
    throttle: Throttle | None = None,
    now: datetime | None = None,
) -> StaffAccount:
    """The account these credentials open, or AccountError(SIGN_IN_REFUSED).

    Exactly one password check is made on every path (the account's hash, or a dummy one when no active account
    matches or `throttle` pauses `client`), and every refusal is the same sentence: a real, unknown, deactivated
    or throttled address cannot be told apart by the answer or its time. Nothing is written: the account is
    never locked. The sign-in page passes its `throttle` and the client's address.
    """
    now = now or _now()
    email = email.strip().lower()
    account = session.exec(select(StaffAccount).where(StaffAccount.email == email)).first()
    allowed = throttle.claim(email, client, now) if throttle is not None else True
    usable = allowed and account is not None and account.active
    stored = account.password_hash if account is not None and usable else _dummy_hash(_hashing["method"])
    if check_password_hash(stored, password) and usable and account is not None:
        if throttle is not None:
            throttle.succeeded(email, client)
        return account
    if throttle is not None and allowed:
        throttle.failed(email, client, now)
    raise AccountError(SIGN_IN_REFUSED)


def change_own_password(
    *, session: Session, account_id: int, current_password: str, new_password: str, now: datetime | None = None
) -> StaffAccount:
    """The signed-in person replaces their password (a temporary one, or their own) with one they choose.

    The current password is checked like a sign-in: a wrong one counts towards the lock, so the caller
    commits in both cases. Errors name their field: "current_password" or "new_password". The new password
    ends the account's sessions (a session names a fragment of the password hash): sign the person in again.
    """
    now = now or _now()
    account = session.get(StaffAccount, account_id)
    if account is None or not account.active:
        raise NoSuchRecord("There is no such account.")
    if problem := _password_problem(new_password):
        raise AccountError(problem, field="new_password")
    if not _check_password(
        session=session, account=account, password=current_password, now=now, field="current_password"
    ):
        raise AccountError("Your current password is not right.", field="current_password")
    if new_password == current_password:
        raise AccountError("Choose a new password, different from your current one.", field="new_password")
    _write(session, account, password_hash=hash_password(new_password), must_change_password=False)
    return account
