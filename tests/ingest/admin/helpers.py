"""Shared by the admin tests: signing in, posting a form with its CSRF token, and reading what was stored."""

from __future__ import annotations

import re
from datetime import UTC, datetime, timedelta
from typing import Any

from flask import Flask
from flask.testing import FlaskClient
from sqlalchemy import Engine
from sqlmodel import Session, select

from impact.auth.accounts import Organisation, StaffAccount
from impact.auth.tokens import ApiToken
from ingest.admin import ID
from tests.factories import PASSWORD, csrf_from, sign_in

NEW_PASSWORD = "a brand new passphrase"
ACCOUNT_ID, TOKEN_ID = f"<{ID}:account_id>", f"<{ID}:token_id>"  # as the routes name them
WHEN = (datetime.now(UTC) - timedelta(days=2)).isoformat()


def contribution(org_id: str = "mind-leeds") -> dict[str, Any]:
    payload = {"contribution_id": "c1", "participant_ids": ["p1"], "area": "support", "text": "More evening sessions"}
    return {"type": "contribution.made", "org_id": org_id, "occurred_at": WHEN, "payload": payload}


def make_operator(engine: Engine, org_id: str) -> None:
    """Mark the organisation as one that runs the platform (done with `impact org create --operator`)."""
    with Session(engine) as db:
        organisation = db.get(Organisation, org_id)
        assert organisation is not None
        organisation.operator = True
        db.add(organisation)
        db.commit()


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


def admin_paths(app: Flask, account_id: int, token_id: int) -> list[tuple[str, str]]:
    """(method, path) of every admin page, for one account and one token."""
    paths = []
    for rule in app.url_map.iter_rules():
        if not rule.endpoint.startswith("admin."):
            continue
        path = rule.rule.replace(ACCOUNT_ID, str(account_id)).replace(TOKEN_ID, str(token_id))
        paths += [(method, path) for method in sorted((rule.methods or set()) & {"GET", "POST"})]
    return paths
