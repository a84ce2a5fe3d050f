"""The admin pages: who may do what (roles, other organisations, bounded ids, CSRF).

Each protection is tested by what it stops: with it removed, the change would happen and the test fail.
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest
from flask import Flask
from sqlalchemy import Engine
from sqlmodel import Session, select

from impact.auth.accounts import (
    Organisation,
    StaffAccount,
)
from ingest.admin import ID
from tests.factories import csrf_from, issue_token
from tests.ingest.admin.helpers import (
    ACCOUNT_ID,
    NEW_PASSWORD,
    TOKEN_ID,
    account,
    admin_paths,
    client_for,
    counts,
    page,
    token,
    token_id_of,
)

# --- Who may do what ----------------------------------------------------------------------------


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
    ("/admin/contact", {"phone": "0113 496 0000", "postal_address": "", "reply_email": "", "website": ""}),
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
                assert not any(o.benchmarking or o.phone for o in session.exec(select(Organisation))), path
