"""The admin pages: accounts and API tokens of one's own organisation, and new organisations.

Each protection is tested by what it stops: with it removed, the change would happen and the test fail.
"""

from __future__ import annotations

import hashlib
import re
from collections.abc import Callable, Iterator
from datetime import UTC, datetime, timedelta
from html import unescape
from html.parser import HTMLParser
from typing import Any

import pytest
from flask import Flask
from flask.testing import FlaskClient
from sqlalchemy import Engine, text
from sqlmodel import Session, select

from impact.auth.accounts import (
    LOCK_AFTER_FAILURES,
    AccountError,
    ApiToken,
    Organisation,
    StaffAccount,
    authenticate,
)
from impact.eventlog import EventLog, open_event_log
from impact.settings import Settings
from ingest import create_app
from ingest.admin import ID
from tests.conftest import PASSWORD, add_organisation, csrf_from, issue_token, sign_in

NEW_PASSWORD = "a brand new passphrase"
ACCOUNT_ID, TOKEN_ID = f"<{ID}:account_id>", f"<{ID}:token_id>"  # as the routes name them
WHEN = (datetime.now(UTC) - timedelta(days=2)).isoformat()


def contribution(org_id: str = "mind-leeds") -> dict[str, Any]:
    payload = {"contribution_id": "c1", "participant_ids": ["p1"], "area": "support", "text": "More evening sessions"}
    return {"type": "contribution.made", "org_id": org_id, "occurred_at": WHEN, "payload": payload}


@pytest.fixture
def event_log(log_settings: Callable[[str], Settings]) -> Iterator[tuple[Settings, EventLog]]:
    settings = log_settings("embedded")
    log = open_event_log(settings)
    yield settings, log
    log.close()


@pytest.fixture
def app(engine: Engine, event_log: tuple[Settings, EventLog]) -> Flask:
    settings, log = event_log
    return create_app(settings, log, test_config={"TESTING": True}, engine=engine)  # CSRF stays on


@pytest.fixture
def orgs(engine: Engine) -> dict[str, dict[str, str]]:
    """Two organisations, each with one account per role: {org_id: {role: e-mail}}."""
    return {org_id: add_organisation(engine, org_id) for org_id in ("mind-leeds", "carers-east")}


def make_operator(engine: Engine, org_id: str) -> None:
    """Mark the organisation as one that runs the platform (done with `impact org create --operator`)."""
    with Session(engine) as db:
        organisation = db.get(Organisation, org_id)
        assert organisation is not None
        organisation.operator = True
        db.add(organisation)
        db.commit()


@pytest.fixture
def operator(engine: Engine) -> dict[str, str]:
    """The organisation that runs the platform, with one account per role: {role: e-mail}."""
    emails = add_organisation(engine, "impact-platform", name="Involvement Impact (platform)")
    make_operator(engine, "impact-platform")
    return emails


def client_for(app: Flask, email: str | None = None, password: str = PASSWORD) -> FlaskClient:
    client = app.test_client()
    if email:
        sign_in(client, email, password)
    return client


def account(engine: Engine, email: str) -> StaffAccount:
    with Session(engine) as db:
        found = db.exec(select(StaffAccount).where(StaffAccount.email == email)).one()
        db.expunge(found)
        return found


def token(engine: Engine, token_id: int) -> ApiToken:
    with Session(engine) as db:
        found = db.get(ApiToken, token_id)
        assert found is not None
        db.expunge(found)
        return found


def token_id_of(engine: Engine, org_id: str) -> int:
    with Session(engine) as db:
        found = db.exec(select(ApiToken).where(ApiToken.org_id == org_id)).first()
        assert found is not None and found.id is not None
        return found.id


def counts(engine: Engine) -> tuple[int, int, int]:
    with Session(engine) as db:
        return (
            len(db.exec(select(Organisation)).all()),
            len(db.exec(select(StaffAccount)).all()),
            len(db.exec(select(ApiToken)).all()),
        )


def page(response: Any) -> str:
    return str(response.get_data(as_text=True))


def post(client: FlaskClient, path: str, form_page: str, **data: str) -> Any:
    """Post a form the way a browser does: with the CSRF token of the page it came from."""
    return client.post(path, data={"csrf_token": csrf_from(client, form_page), **data})


def issue_from_page(client: FlaskClient, name: str = "Case management system") -> tuple[Any, str]:
    response = post(client, "/admin/tokens/new", "/admin/tokens/new", name=name)
    assert response.status_code == 200, page(response)[:500]
    found = re.search(r"<code>(ii_[A-Za-z0-9_-]+)</code>", page(response))
    assert found, "the new token is shown"
    return response, found.group(1)


# --- Accounts -----------------------------------------------------------------------------------


def test_an_admin_creates_an_account_that_can_sign_in(app: Flask, engine: Engine, orgs: dict) -> None:
    admin = client_for(app, orgs["mind-leeds"]["admin"])
    form = {"email": "Bo@Example.org", "name": "Bo <Lee>", "role": "leadership", "password": NEW_PASSWORD}
    response = post(admin, "/admin/accounts/new", "/admin/accounts/new", **form)
    assert response.status_code == 303 and response.headers["Location"].endswith("/admin/")

    index = page(admin.get("/admin/"))
    assert 'role="status"' in index and "Account created for Bo &lt;Lee&gt; (bo@example.org)" in index
    assert "Bo <Lee>" not in index, "names are escaped"
    assert NEW_PASSWORD not in index
    created = account(engine, "bo@example.org")
    assert (created.org_id, created.role, created.name) == ("mind-leeds", "leadership", "Bo <Lee>")
    assert NEW_PASSWORD not in created.password_hash
    assert created.must_change_password, "the admin chose the password: it is temporary"

    bo = client_for(app, "bo@example.org", NEW_PASSWORD)  # sign_in asserts the redirect of a good sign-in
    first = bo.get("/")
    assert first.status_code == 302 and first.headers["Location"].startswith("/account/password"), "choose own first"


def test_a_duplicate_email_gets_a_clear_error_and_keeps_what_was_typed(app: Flask, engine: Engine, orgs: dict) -> None:
    admin = client_for(app, orgs["mind-leeds"]["admin"])
    taken = orgs["carers-east"]["staff"]  # one address, one account, across organisations
    form = {"email": taken.upper(), "name": "Cy Twin", "role": "staff", "password": NEW_PASSWORD}
    before = counts(engine)
    response = post(admin, "/admin/accounts/new", "/admin/accounts/new", **form)
    html = page(response)

    assert response.status_code == 422
    assert re.search(r"<title>Error: Create an account", html)
    assert '<a href="#email">E-mail address: An account with that e-mail address already exists.</a>' in html
    assert re.search(r'<p class="error-message" id="email-error">.*already exists', html)
    email_input = re.search(r'<input type="email" id="email"[^>]*>', html)
    assert email_input and 'aria-invalid="true"' in email_input.group() and "email-error" in email_input.group()
    assert f'value="{taken.upper()}"' in html and 'value="Cy Twin"' in html
    assert re.search(r'id="role-staff"[^>]*checked', html), "the chosen role is kept"
    assert NEW_PASSWORD not in html, "a password is never shown again"
    assert counts(engine) == before


def test_every_problem_is_listed_and_linked_to_its_field(app: Flask, orgs: dict) -> None:
    admin = client_for(app, orgs["mind-leeds"]["admin"])
    response = post(admin, "/admin/accounts/new", "/admin/accounts/new", email="nope", name="", password="short")
    html = page(response)
    assert response.status_code == 422
    links = re.findall(r'<li><a href="#([\w-]+)">', html)
    assert links == ["email", "name", "role-staff", "password"]
    for target in links:
        assert f'id="{target}"' in html
    assert 'aria-describedby="role-hint role-error"' in html, "the radio group's error is read with its legend"


def test_a_deactivated_account_is_signed_out_and_cannot_sign_in(app: Flask, engine: Engine, orgs: dict) -> None:
    emails = orgs["mind-leeds"]
    admin = client_for(app, emails["admin"])
    staff = client_for(app, emails["staff"])
    assert staff.get("/").status_code == 200
    staff_id = account(engine, emails["staff"]).id

    response = post(admin, f"/admin/accounts/{staff_id}/deactivate", "/admin/")
    assert response.status_code == 303
    assert "deactivated" in page(admin.get("/admin/"))
    assert not account(engine, emails["staff"]).active

    assert staff.get("/").status_code == 302, "the existing session has ended"
    login = staff.post(
        "/login", data={"email": emails["staff"], "password": PASSWORD, "csrf_token": csrf_from(staff, "/login")}
    )
    assert login.status_code == 401


def test_reactivation_needs_a_new_password_and_does_not_revive_old_sessions(
    app: Flask, engine: Engine, orgs: dict
) -> None:
    emails = orgs["mind-leeds"]
    admin = client_for(app, emails["admin"])
    old_session = client_for(app, emails["staff"])
    staff_id = account(engine, emails["staff"]).id
    post(admin, f"/admin/accounts/{staff_id}/deactivate", "/admin/")

    short = post(
        admin, f"/admin/accounts/{staff_id}/reactivate", f"/admin/accounts/{staff_id}/reactivate", password="x"
    )
    assert short.status_code == 422 and not account(engine, emails["staff"]).active
    response = post(
        admin, f"/admin/accounts/{staff_id}/reactivate", f"/admin/accounts/{staff_id}/reactivate", password=NEW_PASSWORD
    )
    assert response.status_code == 303 and account(engine, emails["staff"]).active

    assert old_session.get("/").status_code == 302, "a session from before deactivation stays ended"
    fresh = app.test_client()
    sign_in(fresh, emails["staff"], NEW_PASSWORD)
    first = fresh.get("/")
    assert first.status_code == 302 and first.headers["Location"].startswith("/account/password"), "choose own first"


def test_an_admin_cannot_deactivate_themselves(app: Flask, engine: Engine, orgs: dict) -> None:
    email = orgs["mind-leeds"]["admin"]
    admin = client_for(app, email)
    me = account(engine, email)
    assert f"/admin/accounts/{me.id}/deactivate" not in page(admin.get("/admin/")), "no button for yourself"

    response = post(admin, f"/admin/accounts/{me.id}/deactivate", "/admin/")
    assert response.status_code == 303
    assert account(engine, email).active
    assert "You cannot deactivate your own account" in page(admin.get("/admin/"))


def test_a_locked_account_is_shown_and_can_be_unlocked_or_given_a_new_password(
    app: Flask, engine: Engine, orgs: dict
) -> None:
    emails = orgs["mind-leeds"]
    with Session(engine) as db:
        for _ in range(LOCK_AFTER_FAILURES):
            with pytest.raises(AccountError):
                authenticate(session=db, email=emails["staff"], password="a wrong guess")
        db.commit()
    admin = client_for(app, emails["admin"])
    staff = account(engine, emails["staff"])
    assert "Locked until" in page(admin.get("/admin/"))

    assert post(admin, f"/admin/accounts/{staff.id}/unlock", "/admin/").status_code == 303
    assert account(engine, emails["staff"]).locked_until is None
    assert "Locked until" not in page(admin.get("/admin/"))

    response = post(
        admin, f"/admin/accounts/{staff.id}/password", f"/admin/accounts/{staff.id}/password", password=NEW_PASSWORD
    )
    assert response.status_code == 303
    sign_in(app.test_client(), emails["staff"], NEW_PASSWORD)


def test_an_admin_who_sets_their_own_password_stays_signed_in(app: Flask, engine: Engine, orgs: dict) -> None:
    email = orgs["mind-leeds"]["admin"]
    admin = client_for(app, email)
    me = account(engine, email)
    other_session = client_for(app, email)
    response = post(
        admin, f"/admin/accounts/{me.id}/password", f"/admin/accounts/{me.id}/password", password=NEW_PASSWORD
    )
    assert response.status_code == 303
    assert admin.get("/admin/").status_code == 200
    assert other_session.get("/admin/").status_code == 302


def test_a_password_an_admin_sets_for_someone_else_is_temporary(app: Flask, engine: Engine, orgs: dict) -> None:
    emails = orgs["mind-leeds"]
    admin = client_for(app, emails["admin"])
    staff = account(engine, emails["staff"])
    assert not staff.must_change_password, "made with the person's own password"

    form_page = page(admin.get(f"/admin/accounts/{staff.id}/password"))
    assert "The password you set is temporary" in form_page
    path = f"/admin/accounts/{staff.id}/password"
    assert post(admin, path, path, password=NEW_PASSWORD).status_code == 303
    assert account(engine, emails["staff"]).must_change_password
    assert "changed to the temporary one you set" in page(admin.get("/admin/"))

    post(admin, f"/admin/accounts/{staff.id}/deactivate", "/admin/")
    with Session(engine) as db:  # as if they had chosen their own since
        found = db.get(StaffAccount, staff.id)
        assert found is not None
        found.must_change_password = False
        db.add(found)
        db.commit()
    path = f"/admin/accounts/{staff.id}/reactivate"
    assert "temporary password you set here" in page(admin.get(path))
    assert post(admin, path, path, password=NEW_PASSWORD + "!").status_code == 303
    reactivated = account(engine, emails["staff"])
    assert reactivated.active and reactivated.must_change_password

    me = account(engine, emails["admin"])
    path = f"/admin/accounts/{me.id}/password"
    assert "The password you set is temporary" not in page(admin.get(path))
    assert post(admin, path, path, password=NEW_PASSWORD).status_code == 303
    assert not account(engine, emails["admin"]).must_change_password, "an admin's own choice"


# --- API tokens ---------------------------------------------------------------------------------


def test_a_new_token_is_shown_once_and_only_its_hash_is_stored(app: Flask, engine: Engine, orgs: dict) -> None:
    admin = client_for(app, orgs["mind-leeds"]["admin"])
    response, secret = issue_from_page(admin, name="Case <system>")

    assert page(response).count(secret) == 1
    assert response.headers["Cache-Control"] == "no-store"
    with admin.session_transaction() as session:  # the session cookie is signed, not encrypted
        assert secret not in repr(dict(session)), "never in the session (flashed messages live there)"
    index = page(admin.get("/admin/"))
    assert secret not in index and "Case &lt;system&gt;" in index and secret[:10] in index

    with engine.connect() as conn:
        rows = [tuple(map(str, row)) for row in conn.execute(text("SELECT * FROM apitoken"))]
    assert rows and not any(secret in value for row in rows for value in row)
    assert hashlib.sha256(secret.encode()).hexdigest() in {value for row in rows for value in row}


def test_a_token_revoked_from_the_page_is_refused_by_the_api(app: Flask, engine: Engine, orgs: dict) -> None:
    admin = client_for(app, orgs["mind-leeds"]["admin"])
    _response, secret = issue_from_page(admin)
    api = app.test_client()
    bearer = {"Authorization": f"Bearer {secret}"}
    assert api.post("/api/v1/events", json=contribution(), headers=bearer).status_code == 202

    token_id = token_id_of(engine, "mind-leeds")
    confirm = admin.get(f"/admin/tokens/{token_id}/revoke")
    assert confirm.status_code == 200 and "Revoke the token “Case management system”" in page(confirm)
    assert token(engine, token_id).revoked_at is None, "looking at the confirmation revokes nothing"
    response = post(admin, f"/admin/tokens/{token_id}/revoke", f"/admin/tokens/{token_id}/revoke")
    assert response.status_code == 303
    assert "is revoked" in page(admin.get("/admin/"))

    refused = api.post("/api/v1/events", json=contribution(), headers=bearer)
    assert refused.status_code == 401


def test_a_token_needs_a_name(app: Flask, engine: Engine, orgs: dict) -> None:
    admin = client_for(app, orgs["mind-leeds"]["admin"])
    before = counts(engine)
    response = post(admin, "/admin/tokens/new", "/admin/tokens/new", name="  ")
    assert response.status_code == 422 and "<title>Error: Issue an API token" in page(response)
    assert counts(engine) == before


# --- New organisations --------------------------------------------------------------------------


NEW_ORGANISATION = {
    "org_id": "Age-Friendly-York",
    "org_name": "Age Friendly York",
    "email": "dee@afy.example.org",
    "name": "Dee",
    "password": NEW_PASSWORD,
}


def test_an_admin_of_a_member_charity_cannot_create_organisations(app: Flask, engine: Engine, orgs: dict) -> None:
    admin = client_for(app, orgs["mind-leeds"]["admin"])
    assert "/admin/organisations/new" not in page(admin.get("/admin/")), "no link to the page"
    assert admin.get("/admin/organisations/new").status_code == 403
    before = counts(engine)
    response = admin.post(
        "/admin/organisations/new", data={"csrf_token": csrf_from(admin, "/admin/"), **NEW_ORGANISATION}
    )
    assert response.status_code == 403
    assert counts(engine) == before
    with Session(engine) as db:
        assert db.get(Organisation, "age-friendly-york") is None


def test_an_operator_creates_an_organisation_whose_first_admin_has_a_temporary_password(
    app: Flask, engine: Engine, orgs: dict, operator: dict[str, str]
) -> None:
    creator = client_for(app, operator["admin"])
    assert "/admin/organisations/new" in page(creator.get("/admin/"))
    form_page = page(creator.get("/admin/organisations/new"))
    assert "Your account will have no access to the new organisation" in form_page
    assert "temporary password you set" in form_page
    response = post(creator, "/admin/organisations/new", "/admin/organisations/new", **NEW_ORGANISATION)
    assert response.status_code == 303
    creator_index = page(creator.get("/admin/"))
    assert "Give them the temporary password you set" in creator_index
    assert NEW_PASSWORD not in creator_index

    first_admin = account(engine, "dee@afy.example.org")
    assert (first_admin.org_id, first_admin.role, first_admin.active) == ("age-friendly-york", "admin", True)
    assert first_admin.must_change_password, "the operator chose the password: Dee must choose her own"
    with Session(engine) as db:
        assert authenticate(session=db, email="dee@afy.example.org", password=NEW_PASSWORD).id == first_admin.id
        db.commit()
        created = db.get(Organisation, "age-friendly-york")
        assert created is not None and not created.operator, "a new organisation is a member, not an operator"

    assert "dee@afy.example.org" not in page(creator.get("/admin/")), "not among the creator's accounts"
    assert creator.get(f"/admin/accounts/{first_admin.id}/password").status_code == 404
    deactivate = post(creator, f"/admin/accounts/{first_admin.id}/deactivate", "/admin/")
    assert deactivate.status_code == 404 and account(engine, "dee@afy.example.org").active


def test_an_organisation_whose_admin_cannot_be_created_is_not_created(
    app: Flask, engine: Engine, orgs: dict, operator: dict[str, str]
) -> None:
    creator = client_for(app, operator["admin"])
    form = {
        "org_id": "mind-leeds",
        "org_name": "",
        "email": orgs["carers-east"]["admin"],
        "name": "Dee",
        "password": NEW_PASSWORD,
    }
    before = counts(engine)
    response = post(creator, "/admin/organisations/new", "/admin/organisations/new", **form)
    html = page(response)
    assert response.status_code == 422 and "<title>Error: Create an organisation" in html
    assert re.findall(r'<li><a href="#([\w-]+)">', html) == ["org_id", "org_name", "email"]
    assert "already exists" in html and 'value="Dee"' in html and NEW_PASSWORD not in html
    assert counts(engine) == before

    form |= {"org_id": "new-org", "org_name": "New Org"}  # only the e-mail address is taken now
    assert post(creator, "/admin/organisations/new", "/admin/organisations/new", **form).status_code == 422
    with Session(engine) as db:
        assert db.get(Organisation, "new-org") is None
    assert counts(engine) == before


# --- Who may do what ----------------------------------------------------------------------------


def admin_paths(app: Flask, account_id: int, token_id: int) -> list[tuple[str, str]]:
    """(method, path) of every admin page, for one account and one token."""
    paths = []
    for rule in app.url_map.iter_rules():
        if not rule.endpoint.startswith("admin."):
            continue
        path = rule.rule.replace(ACCOUNT_ID, str(account_id)).replace(TOKEN_ID, str(token_id))
        paths += [(method, path) for method in sorted((rule.methods or set()) & {"GET", "POST"})]
    return paths


@pytest.mark.parametrize("role", ["staff", "leadership"])
def test_staff_and_leadership_get_403_on_every_admin_page(app: Flask, engine: Engine, orgs: dict, role: str) -> None:
    emails = orgs["mind-leeds"]
    issue_token(engine, "mind-leeds")
    target = account(engine, emails["staff"] if role == "leadership" else emails["leadership"])
    token_id = token_id_of(engine, "mind-leeds")
    paths = admin_paths(app, target.id or 0, token_id)
    assert len(paths) >= 14, paths  # every page and every action

    client = client_for(app, emails[role])
    csrf = csrf_from(client, "/login")
    form = {"csrf_token": csrf, "email": "x@example.org", "name": "X", "role": "admin", "password": NEW_PASSWORD}
    form |= {"org_id": "sneaky", "org_name": "Sneaky"}
    before = counts(engine)
    for method, path in paths:
        response = client.open(path, method=method, data=form if method == "POST" else None)
        assert response.status_code == 403, (method, path, response.status_code)
    assert counts(engine) == before
    after = account(engine, target.email)
    assert after.active and after.password_hash == target.password_hash
    assert token(engine, token_id).revoked_at is None


def test_signed_out_visitors_are_sent_to_sign_in(app: Flask, engine: Engine, orgs: dict) -> None:
    client = app.test_client()
    for method, path in admin_paths(app, 1, 1):
        if method == "GET":
            response = client.get(path)
            assert response.status_code == 302 and "/login" in response.headers["Location"], path


ACTIONS_ON_ANOTHER_ORGANISATION = [
    ("POST", "/admin/accounts/{account}/deactivate"),
    ("GET", "/admin/accounts/{account}/reactivate"),
    ("POST", "/admin/accounts/{account}/reactivate"),
    ("GET", "/admin/accounts/{account}/password"),
    ("POST", "/admin/accounts/{account}/password"),
    ("POST", "/admin/accounts/{account}/unlock"),
    ("GET", "/admin/tokens/{token}/revoke"),
    ("POST", "/admin/tokens/{token}/revoke"),
]


def test_another_organisations_accounts_and_tokens_are_not_found(app: Flask, engine: Engine, orgs: dict) -> None:
    issue_token(engine, "mind-leeds")
    victim = account(engine, orgs["mind-leeds"]["staff"])
    token_id = token_id_of(engine, "mind-leeds")
    with Session(engine) as db:  # locked, so that an unguarded unlock would show
        locked = db.get(StaffAccount, victim.id)
        assert locked is not None
        locked.locked_until = datetime.now(UTC) + timedelta(minutes=10)
        db.add(locked)
        db.commit()
    victim = account(engine, victim.email)
    intruder = client_for(app, orgs["carers-east"]["admin"])
    data = {"csrf_token": csrf_from(intruder, "/admin/"), "password": NEW_PASSWORD}

    for method, path in ACTIONS_ON_ANOTHER_ORGANISATION:
        url = path.format(account=victim.id, token=token_id)
        response = intruder.open(url, method=method, data=data if method == "POST" else None)
        html = page(response)
        assert response.status_code == 404, (method, url, response.status_code)
        assert victim.name not in html and victim.email not in html
        after = account(engine, victim.email)
        assert (after.active, after.password_hash, after.locked_until) == (
            victim.active,
            victim.password_hash,
            victim.locked_until,
        ), (method, url)
        assert token(engine, token_id).revoked_at is None, (method, url)


@pytest.mark.parametrize("number", ["2147483648", "99999999999999999999"])
def test_ids_beyond_the_databases_integers_are_not_found(app: Flask, engine: Engine, orgs: dict, number: str) -> None:
    admin = client_for(app, orgs["mind-leeds"]["admin"])
    data = {"csrf_token": csrf_from(admin, "/admin/"), "password": NEW_PASSWORD}
    before = counts(engine)
    for method, path in [*ACTIONS_ON_ANOTHER_ORGANISATION, ("GET", "/admin/accounts/{account}/password")]:
        url = path.format(account=number, token=number)
        response = admin.open(url, method=method, data=data if method == "POST" else None)
        assert response.status_code == 404, (method, url, response.status_code)
    largest = admin.open("/admin/accounts/2147483647/unlock", method="POST", data=data)
    assert largest.status_code == 404, "the largest id is looked up, and not found"
    assert counts(engine) == before


def test_every_id_in_an_admin_path_is_bounded(app: Flask) -> None:
    rules = [rule.rule for rule in app.url_map.iter_rules() if rule.endpoint.startswith("admin.")]
    assert [rule for rule in rules if "_id>" in rule and ID not in rule] == []
    assert sum(ID in rule for rule in rules) == 5


POSTS = [
    ("/admin/accounts/new", {"email": "new@example.org", "name": "New", "role": "admin", "password": NEW_PASSWORD}),
    ("/admin/accounts/{account}/deactivate", {}),
    ("/admin/accounts/{account}/password", {"password": NEW_PASSWORD}),
    ("/admin/accounts/{account}/reactivate", {"password": NEW_PASSWORD}),
    ("/admin/accounts/{account}/unlock", {}),
    ("/admin/tokens/new", {"name": "Sneaky"}),
    ("/admin/tokens/{token}/revoke", {}),
    ("/admin/benchmarking", {"share": "yes"}),
    (
        "/admin/organisations/new",
        {"org_id": "sneaky", "org_name": "Sneaky", "email": "s@example.org", "name": "S", "password": NEW_PASSWORD},
    ),
]


def test_a_post_without_the_forms_csrf_token_is_refused_and_changes_nothing(
    app: Flask, engine: Engine, orgs: dict
) -> None:
    issue_token(engine, "mind-leeds")
    victim = account(engine, orgs["mind-leeds"]["staff"])
    token_id = token_id_of(engine, "mind-leeds")
    admin = client_for(app, orgs["mind-leeds"]["admin"])
    before = counts(engine)
    posted = {rule.rule for rule in app.url_map.iter_rules() if "POST" in (rule.methods or ())}
    posted = {path for path in posted if path.startswith("/admin/")}
    assert posted == {path.replace("{account}", ACCOUNT_ID).replace("{token}", TOKEN_ID) for path, _ in POSTS}

    for path, data in POSTS:
        for csrf_token in (None, "not-the-token"):
            form = data | ({"csrf_token": csrf_token} if csrf_token else {})
            response = admin.post(path.format(account=victim.id, token=token_id), data=form)
            assert response.status_code == 400, (path, csrf_token, response.status_code)
            assert "did not come from this site" in page(response)
            assert counts(engine) == before, path
            after = account(engine, victim.email)
            assert after.active and after.password_hash == victim.password_hash, path
            assert token(engine, token_id).revoked_at is None, path
            with Session(engine) as session:
                assert not any(o.benchmarking for o in session.exec(select(Organisation))), path


# --- Accessible pages ---------------------------------------------------------------------------


class Structure(HTMLParser):
    """What the accessibility checks need: headings, titles, controls, labels, fieldsets and legends."""

    def __init__(self) -> None:
        super().__init__()
        self.h1s = 0
        self.title = ""
        self.controls: list[dict[str, str | None]] = []
        self.label_for: set[str] = set()
        self.ids: set[str] = set()
        self.radios_outside_fieldset = 0
        self.fieldsets_without_legend = 0
        self._fieldsets: list[bool] = []
        self._in_title = False

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        attributes = dict(attrs)
        if attributes.get("id"):
            self.ids.add(str(attributes["id"]))
        if tag == "h1":
            self.h1s += 1
        elif tag == "title":
            self._in_title = True
        elif tag == "label" and attributes.get("for"):
            self.label_for.add(str(attributes["for"]))
        elif tag == "fieldset":
            self._fieldsets.append(False)
        elif tag == "legend" and self._fieldsets:
            self._fieldsets[-1] = True
        elif tag in {"input", "select", "textarea"} and attributes.get("type") not in {"hidden", "submit"}:
            self.controls.append(attributes)
            if attributes.get("type") == "radio" and not self._fieldsets:
                self.radios_outside_fieldset += 1

    def handle_endtag(self, tag: str) -> None:
        if tag == "title":
            self._in_title = False
        elif tag == "fieldset" and self._fieldsets and not self._fieldsets.pop():
            self.fieldsets_without_legend += 1

    def handle_data(self, data: str) -> None:
        if self._in_title:
            self.title += data


def test_every_admin_page_has_one_h1_a_title_and_labelled_controls(app: Flask, engine: Engine, orgs: dict) -> None:
    issue_token(engine, "mind-leeds")
    make_operator(engine, "mind-leeds")  # so that the page for new organisations is shown too
    admin = client_for(app, orgs["mind-leeds"]["admin"])
    target = account(engine, orgs["mind-leeds"]["staff"])
    pages = [path for method, path in admin_paths(app, target.id or 0, token_id_of(engine, "mind-leeds"))]
    pages = sorted({path for path in pages if admin.get(path).status_code == 200})
    assert len(pages) >= 7, pages
    invalid = post(admin, "/admin/accounts/new", "/admin/accounts/new", email="bad")
    for path, response in [*((path, admin.get(path)) for path in pages), ("invalid form", invalid)]:
        structure = Structure()
        structure.feed(page(response))
        assert structure.h1s == 1, path
        title = unescape(structure.title).strip()
        assert title.endswith("Involvement Impact") and title.startswith("Error: ") == (path == "invalid form"), title
        for control in structure.controls:
            assert control.get("id") in structure.label_for, (path, control)
            for described in str(control.get("aria-describedby") or "").split():
                assert described in structure.ids, (path, described)
            if control.get("type") == "password":
                assert control.get("autocomplete") == "new-password" and "value" not in control, path
        assert structure.radios_outside_fieldset == 0 and structure.fieldsets_without_legend == 0, path
