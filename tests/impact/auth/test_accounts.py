"""Accounts, roles, lockout and API tokens; the lock's counting and claims on SQLite and PostgreSQL (`twins`)."""

from __future__ import annotations

import threading
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from sqlalchemy import Engine
from sqlmodel import Session, col, select

from impact.auth import accounts
from impact.auth.accounts import (
    LOCK_AFTER_FAILURES,
    LOCK_FOR,
    MAX_NAME,
    SIGN_IN_REFUSED,
    AccountError,
    NoSuchRecord,
    Organisation,
    Role,
    StaffAccount,
    account_problems,
    accounts_of,
    authenticate,
    change_own_password,
    create_account,
    create_organisation,
    create_organisation_with_admin,
    deactivate_account,
    is_operator,
    locked_until,
    reactivate_account,
    set_password,
    unlock_account,
)
from impact.auth.throttle import FIRST_PAUSE, PER_ADDRESS_LIMIT, Throttle
from impact.auth.tokens import issue_token, revoke_token, token_for, tokens_of
from impact.demo.accounts import DEMO_OPERATOR, DEMO_PASSWORD, demo_accounts
from impact.settings import Settings

PASSWORD = "a long enough passphrase"
STRANGER, OWNER = "203.0.113.9", "198.51.100.4"  # two clients' addresses


def wrong_current(session: Session, *, current: str = "guess", now: datetime | None = None) -> None:
    """Ann, signed in, tries to change her password with `current` (a wrong one by default)."""
    account_id = ann(session).id or 0
    try:
        change_own_password(
            session=session,
            account_id=account_id,
            current_password=current,
            new_password="a password of my own",
            now=now,
        )
    finally:
        session.commit()  # as the page does: a failure counts


@pytest.fixture
def session(engine: Engine) -> Iterator[Session]:
    with Session(engine) as session:
        create_organisation(session=session, org_id="mind-leeds", name="Mind in Leeds")
        create_organisation(session=session, org_id="carers-east", name="Carers East")
        create_account(
            session=session,
            org_id="mind-leeds",
            email="Ann@Example.org",
            name="Ann",
            role=Role.staff,
            password=PASSWORD,
        )
        session.commit()
        yield session


def test_the_right_password_opens_the_account(session: Session) -> None:
    account = authenticate(session=session, email=" ann@example.org ", password=PASSWORD)
    assert (account.org_id, account.role) == ("mind-leeds", "staff")
    assert PASSWORD not in account.password_hash and account.password_hash.startswith("pbkdf2:sha256:1$")


def test_production_hashes_with_scrypt_and_cheap_hashes_still_verify(engine: Engine) -> None:
    """The tests hash cheaply (IMPACT_PASSWORD_HASHING=fast); the default is scrypt, and both verify."""
    with Session(engine) as session:
        create_organisation(session=session, org_id="mind-leeds", name="Mind in Leeds")
        create_account(
            session=session, org_id="mind-leeds", email="fast@example.org", name="", role="staff", password=PASSWORD
        )
        accounts.configure(Settings(env="test"))
        try:
            create_account(
                session=session, org_id="mind-leeds", email="slow@example.org", name="", role="staff", password=PASSWORD
            )
        finally:
            accounts.configure(Settings(env="test", password_hashing="fast"))
        session.commit()
        slow = authenticate(session=session, email="slow@example.org", password=PASSWORD)
        fast = authenticate(session=session, email="fast@example.org", password=PASSWORD)
    assert slow.password_hash.startswith("scrypt:") and fast.password_hash.startswith("pbkdf2:sha256:1$")


@pytest.mark.twins  # the lock's counts are claimed by SQL updates
@pytest.mark.parametrize("email", ["ann@example.org", "nobody@example.org"])
def test_wrong_credentials_get_one_message(session: Session, email: str) -> None:
    with pytest.raises(AccountError, match="e-mail address or password is not right"):
        authenticate(session=session, email=email, password="wrong password!")


def test_repeated_failures_pause_the_client_never_the_account(session: Session) -> None:
    """A stranger's guesses pause the stranger's client: the owner signs in from theirs, and the pause ends."""
    throttle, now = Throttle(), datetime.now(UTC)
    for _ in range(PER_ADDRESS_LIMIT):
        with pytest.raises(AccountError, match="not right"):
            authenticate(
                session=session, email="ann@example.org", password="guess", client=STRANGER, throttle=throttle, now=now
            )
    with pytest.raises(AccountError, match="too many tries"):
        authenticate(session=session, email="ann@example.org", password=PASSWORD, client=STRANGER, throttle=throttle)
    owner = authenticate(
        session=session, email="ann@example.org", password=PASSWORD, client=OWNER, throttle=throttle, now=now
    )
    assert owner.name == "Ann" and locked_until(owner) is None and owner.failed_logins == 0, "nothing is written"
    later = now + FIRST_PAUSE + timedelta(seconds=1)
    back = authenticate(
        session=session, email="ann@example.org", password=PASSWORD, client=STRANGER, throttle=throttle, now=later
    )
    assert back.name == "Ann", "the pause ends by itself"


@pytest.mark.parametrize(
    ("fields", "message"),
    [
        ({"org_id": "nowhere"}, "no organisation"),
        ({"email": "not-an-address"}, "e-mail address like"),
        ({"email": "ANN@example.org"}, "already exists"),
        ({"role": "owner"}, "Choose a role"),
        ({"password": "short"}, "at least 12"),
    ],
)
def test_bad_accounts_are_refused_with_a_reason(session: Session, fields: dict[str, str], message: str) -> None:
    values: dict[str, Any] = {
        "org_id": "mind-leeds",
        "email": "bo@example.org",
        "name": "Bo",
        "role": "staff",
        "password": PASSWORD,
    }
    with pytest.raises(AccountError, match=message) as raised:
        create_account(session=session, **(values | fields))
    assert raised.value.field == next(iter(fields)), "the error names the field it is about"
    assert session.get(StaffAccount, 2) is None


def test_tokens_are_hashed_scoped_and_revocable(session: Session) -> None:
    token, secret = issue_token(session=session, org_id="mind-leeds", name="Case system")
    assert secret.startswith("ii_") and secret not in token.token_hash and token.prefix == secret[:10]
    assert token_for(session=session, secret=secret) == token
    assert token_for(session=session, secret=secret + "x") is None
    with pytest.raises(AccountError, match="no such token"):
        revoke_token(session=session, org_id="carers-east", token_id=token.id or 0)
    assert token_for(session=session, secret=secret) is not None, "another organisation cannot revoke it"
    revoke_token(session=session, org_id="mind-leeds", token_id=token.id or 0)
    assert token_for(session=session, secret=secret) is None


def test_every_problem_with_a_new_account_is_found_at_once(session: Session) -> None:
    problems = account_problems(session=session, email="ann@example.org", name="x" * 121, role="owner", password="")
    assert list(problems) == ["email", "name", "role", "password"]
    assert account_problems(session=session, email="bo@example.org", name="Bo", role="staff", password=PASSWORD) == {}


def ann(session: Session) -> StaffAccount:
    return session.exec(select(StaffAccount).where(StaffAccount.email == "ann@example.org")).one()


def test_accounts_are_listed_and_managed_within_their_organisation(session: Session) -> None:
    create_account(
        session=session, org_id="carers-east", email="cy@example.org", name="Cy", role="admin", password=PASSWORD
    )
    cy = session.exec(select(StaffAccount).where(StaffAccount.email == "cy@example.org")).one()
    assert [a.email for a in accounts_of(session=session, org_id="mind-leeds")] == ["ann@example.org"]
    target = ann(session).id or 0
    for manage in (
        lambda: deactivate_account(session=session, org_id="carers-east", account_id=target, by_account_id=cy.id or 0),
        lambda: set_password(session=session, org_id="carers-east", account_id=target, password=PASSWORD * 2),
        lambda: reactivate_account(session=session, org_id="carers-east", account_id=target, password=PASSWORD * 2),
        lambda: unlock_account(session=session, org_id="carers-east", account_id=target),
    ):
        with pytest.raises(NoSuchRecord, match="no such account"):
            manage()
    assert ann(session).active and authenticate(session=session, email="ann@example.org", password=PASSWORD)


def test_a_deactivated_account_cannot_sign_in_until_reactivated_with_a_new_password(session: Session) -> None:
    target = ann(session)
    deactivate_account(session=session, org_id="mind-leeds", account_id=target.id or 0, by_account_id=0)
    with pytest.raises(AccountError, match="not right"):
        authenticate(session=session, email="ann@example.org", password=PASSWORD)
    old_hash = target.password_hash
    with pytest.raises(AccountError, match="at least 12"):
        reactivate_account(session=session, org_id="mind-leeds", account_id=target.id or 0, password="short")
    assert not ann(session).active
    reactivate_account(session=session, org_id="mind-leeds", account_id=target.id or 0, password="new and long enough")
    assert ann(session).active and ann(session).password_hash != old_hash, "sessions from before end"
    assert authenticate(session=session, email="ann@example.org", password="new and long enough")


def test_nobody_deactivates_their_own_account(session: Session) -> None:
    target = ann(session).id or 0
    with pytest.raises(AccountError, match="your own account"):
        deactivate_account(session=session, org_id="mind-leeds", account_id=target, by_account_id=target)
    assert ann(session).active


@pytest.mark.twins  # the lock's counts are claimed by SQL updates
def test_a_new_password_or_an_unlock_lifts_the_change_password_lock(session: Session) -> None:
    now = datetime.now(UTC)
    for _ in range(LOCK_AFTER_FAILURES):
        with pytest.raises(AccountError):
            wrong_current(session, now=now)
    assert locked_until(ann(session), now) is not None
    assert locked_until(ann(session), now + LOCK_FOR + timedelta(seconds=1)) is None
    unlock_account(session=session, org_id="mind-leeds", account_id=ann(session).id or 0)
    assert locked_until(ann(session)) is None
    for _ in range(LOCK_AFTER_FAILURES):
        with pytest.raises(AccountError):
            wrong_current(session)
    set_password(session=session, org_id="mind-leeds", account_id=ann(session).id or 0, password="fresh passphrase")
    assert locked_until(ann(session)) is None
    assert authenticate(session=session, email="ann@example.org", password="fresh passphrase").name == "Ann"


@pytest.mark.twins  # both or neither: a rolled-back transaction
def test_an_organisation_and_its_first_admin_are_created_together_or_not_at_all(
    session: Session, engine: Engine
) -> None:
    with pytest.raises(AccountError, match="already exists") as raised:
        create_organisation_with_admin(
            session=session,
            org_id="new-org",
            name="New Org",
            admin_email="ann@example.org",
            admin_name="Dee",
            password=PASSWORD,
        )
    assert raised.value.field == "admin_email"
    session.rollback()
    with Session(engine) as other:
        assert other.get(Organisation, "new-org") is None

    organisation, admin = create_organisation_with_admin(
        session=session,
        org_id="new-org",
        name="New Org",
        admin_email="dee@example.org",
        admin_name="Dee",
        password=PASSWORD,
    )
    session.commit()
    assert (organisation.name, admin.org_id, admin.role) == ("New Org", "new-org", "admin")


def test_tokens_are_listed_per_organisation_and_need_a_short_name(session: Session) -> None:
    issue_token(session=session, org_id="mind-leeds", name="First")
    issue_token(session=session, org_id="carers-east", name="Theirs")
    second, _secret = issue_token(session=session, org_id="mind-leeds", name="Second")
    revoke_token(session=session, org_id="mind-leeds", token_id=second.id or 0)
    assert {t.name for t in tokens_of(session=session, org_id="mind-leeds")} == {"First", "Second"}
    with pytest.raises(AccountError, match=f"at most {MAX_NAME}"):
        issue_token(session=session, org_id="mind-leeds", name="x" * (MAX_NAME + 1))
    with pytest.raises(NoSuchRecord):
        revoke_token(session=session, org_id="mind-leeds", token_id=10_000)


# --- Parallel attempts --------------------------------------------------------------------------

PARALLEL_ATTEMPTS = 20


@pytest.mark.twins  # the same on both databases: nothing is written
def test_parallel_wrong_passwords_make_at_most_the_allowed_checks_and_pause_only_that_client(
    engine: Engine, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Each attempt claims its check first: parallel guesses from one client cannot each find the count unused.

    Every attempt makes exactly one hash check (the same time for all); at most PER_ADDRESS_LIMIT of them are
    against the account's hash, the others against the dummy one."""
    with Session(engine) as setup:
        create_organisation(session=setup, org_id="mind-leeds", name="Mind in Leeds")
        create_account(
            session=setup, org_id="mind-leeds", email="ann@example.org", name="Ann", role="staff", password=PASSWORD
        )
        setup.commit()
        real_hash = ann(setup).password_hash
    checks: list[str] = []
    real_check = accounts.check_password_hash

    def counted_check(password_hash: str, password: str) -> bool:
        checks.append(password_hash)
        return real_check(password_hash, password)

    monkeypatch.setattr(accounts, "check_password_hash", counted_check)
    throttle = Throttle()
    start = threading.Barrier(PARALLEL_ATTEMPTS)
    answers: list[str] = []
    crashes: list[BaseException] = []

    def attempt() -> None:
        try:
            with Session(engine) as session:
                start.wait(timeout=30)
                try:
                    authenticate(
                        session=session,
                        email="ann@example.org",
                        password="a wrong guess",
                        client=STRANGER,
                        throttle=throttle,
                    )
                except AccountError as exc:
                    answers.append(str(exc))
                session.commit()  # as the sign-in page does
        except BaseException as exc:  # reported by the assertion below
            crashes.append(exc)

    threads = [threading.Thread(target=attempt) for _ in range(PARALLEL_ATTEMPTS)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=120)

    assert not crashes, crashes
    assert answers == [SIGN_IN_REFUSED] * PARALLEL_ATTEMPTS, "every attempt is refused, in the same words"
    assert len(checks) == PARALLEL_ATTEMPTS, "one hash check per attempt, throttled or not"
    real_checks = [checked for checked in checks if checked == real_hash]
    assert 1 <= len(real_checks) <= PER_ADDRESS_LIMIT, f"{len(real_checks)} checks of the account's password"
    with Session(engine) as later:
        with pytest.raises(AccountError, match="too many tries"):
            authenticate(session=later, email="ann@example.org", password=PASSWORD, client=STRANGER, throttle=throttle)
        assert locked_until(ann(later)) is None, "the account is never locked"
        owner = authenticate(session=later, email="ann@example.org", password=PASSWORD, client=OWNER, throttle=throttle)
        assert owner.name == "Ann"


@pytest.mark.twins  # the lock's counts are claimed by SQL updates
def test_a_new_window_starts_when_the_lock_ends(session: Session) -> None:
    now = datetime.now(UTC)
    for _ in range(LOCK_AFTER_FAILURES):
        with pytest.raises(AccountError, match="not right"):
            wrong_current(session, now=now)
    later = now + LOCK_FOR + timedelta(seconds=1)
    for _ in range(LOCK_AFTER_FAILURES - 1):
        with pytest.raises(AccountError, match="not right"):
            wrong_current(session, now=later)
    assert locked_until(ann(session), later) is None, "the window after a lock has all its attempts"
    with pytest.raises(AccountError, match="not right"):
        wrong_current(session, now=later)
    assert locked_until(ann(session), later) is not None


@pytest.mark.twins  # the lock's counts are claimed by SQL updates
def test_an_account_whose_count_was_used_up_elsewhere_is_refused_unchecked(
    session: Session, monkeypatch: pytest.MonkeyPatch
) -> None:
    target = ann(session)
    target.failed_logins = LOCK_AFTER_FAILURES  # every check of the window claimed, no lock written yet
    session.add(target)
    session.commit()
    monkeypatch.setattr(accounts, "check_password_hash", lambda *_: pytest.fail("no check is left"))
    with pytest.raises(AccountError, match="Too many attempts: try again in 15 minutes"):
        wrong_current(session, current=PASSWORD)
    assert locked_until(ann(session)) is not None


# --- Operators and temporary passwords ----------------------------------------------------------


def test_only_an_organisation_created_as_operator_is_one(session: Session) -> None:
    create_organisation(session=session, org_id="impact-platform", name="Platform", operator=True)
    assert is_operator(session=session, org_id="impact-platform")
    assert not is_operator(session=session, org_id="mind-leeds")
    assert not is_operator(session=session, org_id="nowhere")
    organisation, _admin = create_organisation_with_admin(
        session=session, org_id="new-org", name="New", admin_email="d@example.org", admin_name="D", password=PASSWORD
    )
    assert not organisation.operator


def test_a_password_someone_else_set_must_be_changed(session: Session) -> None:
    assert not ann(session).must_change_password, "an account made with the owner's own password"
    admin = create_account(
        session=session,
        org_id="mind-leeds",
        email="ed@example.org",
        name="Ed",
        role="admin",
        password=PASSWORD,
        must_change_password=True,
    )
    assert admin.must_change_password
    target = ann(session).id or 0
    set_password(session=session, org_id="mind-leeds", account_id=target, password=PASSWORD * 2, by_account_id=admin.id)
    assert ann(session).must_change_password, "set by an admin for someone else"
    set_password(session=session, org_id="mind-leeds", account_id=target, password=PASSWORD * 2, by_account_id=target)
    assert not ann(session).must_change_password, "set by the person themselves"
    deactivate_account(session=session, org_id="mind-leeds", account_id=target, by_account_id=admin.id or 0)
    reactivate_account(session=session, org_id="mind-leeds", account_id=target, password=PASSWORD)
    assert ann(session).must_change_password, "a reactivation's password is set by an admin"
    _org, first = create_organisation_with_admin(
        session=session,
        org_id="new-org",
        name="New",
        admin_email="d@example.org",
        admin_name="D",
        password=PASSWORD,
        must_change_password=True,
    )
    assert first.must_change_password


def test_changing_ones_own_password_needs_the_current_one_and_clears_the_flag(session: Session) -> None:
    target = ann(session)
    target.must_change_password = True
    session.add(target)
    session.commit()
    account_id = target.id or 0
    old_hash = target.password_hash
    for current, new, field, message in [
        (PASSWORD, "short", "new_password", "at least 12"),
        ("not my password", "a password of my own", "current_password", "current password is not right"),
        (PASSWORD, PASSWORD, "new_password", "different from your current one"),
    ]:
        with pytest.raises(AccountError, match=message) as raised:
            change_own_password(session=session, account_id=account_id, current_password=current, new_password=new)
        assert raised.value.field == field
        session.commit()
        assert ann(session).must_change_password and ann(session).password_hash == old_hash
    with pytest.raises(NoSuchRecord):
        change_own_password(session=session, account_id=10_000, current_password=PASSWORD, new_password=PASSWORD * 2)

    changed = change_own_password(
        session=session, account_id=account_id, current_password=PASSWORD, new_password="a password of my own"
    )
    session.commit()
    assert changed.id == account_id and not ann(session).must_change_password
    assert ann(session).password_hash != old_hash, "the old sessions end"
    assert authenticate(session=session, email="ann@example.org", password="a password of my own")
    with pytest.raises(AccountError, match="not right"):
        authenticate(session=session, email="ann@example.org", password=PASSWORD)


@pytest.mark.twins  # the lock's counts are claimed by SQL updates
def test_wrong_current_passwords_count_towards_the_lock(session: Session) -> None:
    account_id = ann(session).id or 0
    for _ in range(LOCK_AFTER_FAILURES):
        with pytest.raises(AccountError, match="current password is not right"):
            change_own_password(
                session=session, account_id=account_id, current_password="guess", new_password="a password of my own"
            )
        session.commit()
    with pytest.raises(AccountError, match="Too many attempts") as raised:
        change_own_password(
            session=session, account_id=account_id, current_password=PASSWORD, new_password="a password of my own"
        )
    assert raised.value.field == "current_password"
    assert authenticate(session=session, email="ann@example.org", password=PASSWORD).name == "Ann", (
        "the lock is the change-password form's: signing in is throttled by client, never locked"
    )


def test_the_demo_has_an_operator_organisation_with_one_admin(engine: Engine) -> None:
    with Session(engine) as session:
        made = demo_accounts(session)
        session.commit()
        assert demo_accounts(session) == made, "once"
        session.commit()
        platform = session.get(Organisation, DEMO_OPERATOR)
        assert platform is not None and platform.operator and platform.name == "Involvement Impact (platform)"
        assert made[-1] == ("admin@impact-platform.example.org", "admin")
        assert made[0] == ("staff@mind-leeds.example.org", "staff"), "the member charities' accounts come first"
        operators = session.exec(select(Organisation).where(col(Organisation.operator))).all()
        assert [organisation.org_id for organisation in operators] == [DEMO_OPERATOR]
        assert [account.email for account in accounts_of(session=session, org_id=DEMO_OPERATOR)] == [made[-1][0]]
        assert not any(account.must_change_password for account in session.exec(select(StaffAccount)).all())
        assert authenticate(session=session, email=made[-1][0], password=DEMO_PASSWORD).role == "admin"
