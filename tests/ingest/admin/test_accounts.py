"""The admin pages: accounts of one's own organisation (create, deactivate, unlock, passwords).

Each protection is tested by what it stops: with it removed, the change would happen and the test fail.
"""

from __future__ import annotations

import re

import pytest
from flask import Flask
from sqlalchemy import Engine
from sqlmodel import Session

from impact.auth.accounts import (
    LOCK_AFTER_FAILURES,
    AccountError,
    StaffAccount,
    change_own_password,
)
from tests.factories import PASSWORD, csrf_from, sign_in
from tests.ingest.admin.helpers import (
    NEW_PASSWORD,
    account,
    client_for,
    counts,
    page,
    post,
)

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
    with Session(engine) as db:  # only the owner's own wrong current passwords lock an account now
        for _ in range(LOCK_AFTER_FAILURES):
            with pytest.raises(AccountError):
                change_own_password(
                    session=db,
                    account_id=account(engine, emails["staff"]).id or 0,
                    current_password="a wrong guess",
                    new_password="a password of my own",
                )
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
