"""The admin pages: API tokens of one's own organisation, and new organisations (operators only)."""

from __future__ import annotations

import hashlib
import re

from flask import Flask
from sqlalchemy import Engine, text
from sqlmodel import Session

from impact.auth.accounts import (
    Organisation,
    authenticate,
)
from tests.factories import csrf_from
from tests.ingest.admin.helpers import (
    NEW_PASSWORD,
    account,
    client_for,
    contribution,
    counts,
    issue_from_page,
    page,
    post,
    token,
    token_id_of,
)

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
