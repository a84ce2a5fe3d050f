"""Who may open the dashboard: signing in and out, sessions, staff refused, health checks, security headers.

The page needs a signed-in reader (leadership or admin) and shows only their organisation's figures."""

from __future__ import annotations

import json
import re
from collections.abc import Callable
from datetime import date
from pathlib import Path
from urllib.parse import parse_qs, urlsplit

import pytest
from flask import Flask
from flask.testing import FlaskClient
from plotly.io.json import to_json_plotly
from sqlalchemy import Engine
from sqlmodel import Session

from dashboard import create_app, shell
from impact.auth.accounts import SIGN_IN_REFUSED, Role
from impact.auth.sessions import SignedIn
from impact.db import make_engine
from impact.settings import Environment, Settings
from tests.dashboard.app.helpers import (
    FEBRUARY,
    ORG_B_ONLY,
    callback_body,
    component_text,
    components,
    post_overview,
    sign_out_token,
)
from tests.factories import PASSWORD, add_organisation, csrf_from, sign_in


def test_signed_out_pages_go_to_the_sign_in_page(visitor: FlaskClient) -> None:
    for path, next_url in (("/", "/"), ("/anything?period=1", "/anything?period=1")):
        response = visitor.get(path)
        assert response.status_code == 302
        location = urlsplit(response.headers["Location"])
        assert (location.path, parse_qs(location.query)) == ("/login", {"next": [next_url]})


def test_signed_out_dash_requests_get_401_and_no_figures(visitor: FlaskClient) -> None:
    responses = [
        visitor.get("/_dash-layout"),
        visitor.get("/_dash-dependencies"),
        visitor.post("/_dash-update-component", json=callback_body(*FEBRUARY)),
    ]
    for response in responses:
        assert response.status_code == 401
        assert response.get_json() == {"status": 401, "message": "Sign in to see the dashboard."}
        assert response.headers["X-Sign-In"] == "/login"  # assets/session.js opens it


def test_files_that_are_the_same_for_everyone_stay_public(client: FlaskClient, visitor: FlaskClient) -> None:
    page = client.get("/").get_data(as_text=True)
    scripts = re.findall(r'src="(/_dash-component-suites/[^"]+)"', page)
    assert scripts, page[:500]
    for path in (scripts[0], "/assets/dashboard.css", "/assets/session.js", "/_favicon.ico", "/static/sign_in.js"):
        with visitor.get(path) as response:  # files: closed after reading
            assert response.status_code == 200, path


def test_staff_may_not_read_the_dashboard(client_of: Callable[..., FlaskClient]) -> None:
    staff = client_of("org-a", "staff")

    page = staff.get("/")
    assert page.status_code == 403
    text = page.get_data(as_text=True)
    assert "<h1>You cannot use the dashboard</h1>" in text
    assert 'action="/logout"' in text and 'name="csrf_token"' in text  # to sign in as someone else
    for response in (staff.get("/_dash-layout"), staff.post("/_dash-update-component", json=callback_body(*FEBRUARY))):
        assert response.status_code == 403
        assert "response" not in response.get_json()


def test_layout_names_only_the_reader_and_their_organisation(client: FlaskClient) -> None:
    response = client.get("/_dash-layout")
    assert response.status_code == 200
    assert response.headers["Cache-Control"] == "no-store"
    layout = response.get_json()
    found = components(layout)

    [signed_in] = [props for props in found["P"] if props.get("id") == "signed-in"]
    assert signed_in["children"] == "Signed in as Leadership of org-a · Alpha Carers Forum"
    [form] = found["Form"]
    assert (form["method"], form["action"]) == ("post", "/logout")
    assert [props["id"] for props in found["Dropdown"]] == ["area", "level"]  # no organisation to choose
    text = json.dumps(layout)
    assert not any(other in text for other in ORG_B_ONLY)


def test_page_has_landmarks_navigation_and_labelled_filters(client: FlaskClient) -> None:
    found = components(client.get("/_dash-layout").get_json())

    assert {"Header", "Nav", "Main", "Fieldset", "Legend", "Label", "Form", "Button", "Location"} <= found.keys()
    [nav] = found["Nav"]
    assert nav["aria-label"] == "Dashboard pages"
    assert [props["children"] for props in found["Legend"]] == ["Period (from and to dates, inclusive)"]
    assert found["DatePickerRange"][0]["id"] == "period"
    assert {(props["htmlFor"], props["children"]) for props in found["Label"]} == {
        ("area", "Activity area"),
        ("level", "Level of involvement"),
    }
    [announcer] = [props for props in found["P"] if props.get("id") == "announcer"]
    assert announcer["role"] == "status"

    with client.get("/influence?from=2025-01-01") as page:  # every page's address serves the dashboard
        assert page.status_code == 200
        assert '<html lang="en-GB">' in page.get_data(as_text=True)


def test_the_page_says_so_when_the_figures_cannot_be_read(tmp_path: Path) -> None:
    broken = tmp_path / "broken.db"
    broken.mkdir()  # a directory where the database should be: SQLite cannot open it
    engine = make_engine(f"sqlite:///{broken}")
    person = SignedIn(1, "org-a", Role.leadership, "Lee", "lee@org-a.example.org", "v")

    page = shell.layout(engine, shell.Reader(person, sign_out_url="/logout", csrf_token="t"), date(2025, 6, 1))
    found = components(json.loads(to_json_plotly(page)))
    [signed_in] = [props for props in found["P"] if props.get("id") == "signed-in"]
    assert signed_in["children"] == "Signed in as Lee · org-a"  # the organisation's id stands in for its name

    outputs = shell.respond(engine, "org-a", "/", date(2025, 6, 1), None, "/", "", (None, None, "", ""))
    assert shell.UNAVAILABLE in component_text(json.loads(to_json_plotly(outputs[7])))
    engine.dispose()


def test_login_page_is_accessible_and_carries_a_csrf_token(visitor: FlaskClient) -> None:
    response = visitor.get("/login?next=/")
    assert response.status_code == 200
    page = response.get_data(as_text=True)
    assert '<html lang="en-GB">' in page
    assert "<title>Sign in to the dashboard \N{EN DASH} Involvement Impact</title>" in page
    assert "<h1>Sign in</h1>" in page
    assert '<script src="/static/sign_in.js" defer></script>' in page  # focuses the error summary
    assert '<label for="email">' in page and 'id="email"' in page and 'autocomplete="username"' in page
    assert '<label for="password">' in page and 'autocomplete="current-password"' in page
    assert '<input type="hidden" name="next" value="/">' in page
    assert csrf_from(visitor, "/login")
    assert 'role="alert"' not in page

    signed_out = visitor.get("/login?signed_out=1").get_data(as_text=True)
    assert '<div class="notice notice-success" role="status">You have signed out.</div>' in signed_out


def test_a_wrong_password_is_summarised_and_linked_to_the_field(
    visitor: FlaskClient, accounts: dict[str, dict[str, str]]
) -> None:
    email = accounts["org-a"]["leadership"]
    data = {"email": email, "password": "not the password", "csrf_token": csrf_from(visitor, "/login")}

    response = visitor.post("/login", data=data)

    assert response.status_code == 401
    page = response.get_data(as_text=True)
    assert "<title>Error: Sign in to the dashboard" in page
    assert 'role="alert"' in page and f'<a href="#email">{SIGN_IN_REFUSED}</a>' in page
    assert 'aria-invalid="true" aria-describedby="email-error"' in page and 'id="email-error"' in page
    assert f'value="{email}"' in page
    assert visitor.get("/").status_code == 302  # not signed in


@pytest.mark.parametrize("token", [None, "not-a-token"])
def test_login_without_a_valid_csrf_token_is_refused(
    visitor: FlaskClient, accounts: dict[str, dict[str, str]], token: str | None
) -> None:
    csrf_from(visitor, "/login")  # the session has a CSRF secret: only the form's token is missing or wrong
    data = {"email": accounts["org-a"]["leadership"], "password": PASSWORD}
    if token is not None:
        data["csrf_token"] = token

    response = visitor.post("/login", data=data)

    assert response.status_code == 400
    page = response.get_data(as_text=True)
    assert "This form had expired or did not come from this site" in page
    assert 'aria-invalid="true"' not in page  # nothing is wrong with the fields
    assert visitor.get("/").status_code == 302
    assert visitor.post("/_dash-update-component", json=callback_body(*FEBRUARY)).status_code == 401


def test_signing_in_returns_to_the_page_asked_for_and_never_to_another_site(
    visitor: FlaskClient, accounts: dict[str, dict[str, str]]
) -> None:
    email = accounts["org-a"]["leadership"]
    for next_url, expected in (("/?period=1", "/?period=1"), ("https://evil.example/", "/"), ("", "/")):
        client = visitor.application.test_client()
        data = {"email": email, "password": PASSWORD, "next": next_url, "csrf_token": csrf_from(client, "/login")}
        response = client.post("/login", data=data)
        assert response.status_code == 302
        assert response.headers["Location"] == expected


def test_sign_out_needs_the_token_and_ends_the_session(client: FlaskClient) -> None:
    token = sign_out_token(client)

    assert client.post("/logout").status_code == 400  # a cross-site form cannot sign anyone out
    assert client.post("/logout", data={"csrf_token": "forged"}).status_code == 400
    assert post_overview(client, *FEBRUARY)  # still signed in

    response = client.post("/logout", data={"csrf_token": token})
    assert response.status_code == 302
    assert response.headers["Location"] == "/login?signed_out=1"

    after = client.post("/_dash-update-component", json=callback_body(*FEBRUARY))
    assert after.status_code == 401
    assert "response" not in after.get_json()
    assert client.get("/").status_code == 302


def test_session_cookie_is_http_only_and_same_site_lax(
    visitor: FlaskClient, accounts: dict[str, dict[str, str]]
) -> None:
    data = {"email": accounts["org-a"]["leadership"], "password": PASSWORD}
    response = visitor.post("/login", data=data | {"csrf_token": csrf_from(visitor, "/login")})
    [cookie] = [value for value in response.headers.getlist("Set-Cookie") if "session=" in value]
    assert cookie.startswith("impact_session=")
    assert "HttpOnly" in cookie and "SameSite=Lax" in cookie
    assert "Secure" not in cookie  # plain HTTP outside production


def test_session_cookie_is_secure_in_production(involvement: Engine, tmp_path: Path) -> None:
    settings = Settings(
        env=Environment.production, secret_key="p" * 40, database_url="sqlite://", data_dir=tmp_path / "var"
    )
    server = create_app(settings, involvement).server
    assert server.config["SESSION_COOKIE_SECURE"] is True
    assert server.config["SECRET_KEY"] == "p" * 40


def test_healthz_is_public_and_ok_when_the_database_answers(visitor: FlaskClient) -> None:
    response = visitor.get("/healthz")
    assert response.status_code == 200
    assert response.get_json() == {"status": "ok"}


def test_healthz_is_unavailable_when_the_database_is_gone(tmp_path: Path, settings: Settings) -> None:
    path = tmp_path / "impact.db"
    engine = make_engine(f"sqlite:///{path}")
    server = create_app(settings, engine).server
    emails = add_organisation(engine, "org-a")
    client, visitor = server.test_client(), server.test_client()
    sign_in(client, emails["leadership"])
    engine.dispose()
    for leftover in tmp_path.glob("impact.db*"):
        leftover.unlink()
    path.mkdir()  # a directory where the database file was: SQLite cannot open it

    response = visitor.get("/healthz")
    assert response.status_code == 503
    assert response.get_json()["status"] == "unavailable"

    layout = client.get("/_dash-layout")  # the signed-in account cannot be loaded: unavailable, not an error
    assert layout.status_code == 503
    assert "cannot be used right now" in layout.get_json()["message"]
    page = client.get("/")
    assert page.status_code == 503
    assert "cannot be used right now" in page.get_data(as_text=True)
    engine.dispose()


def test_app_factory_makes_the_tables_of_a_fresh_database(tmp_path: Path, settings: Settings) -> None:
    engine = make_engine(f"sqlite:///{tmp_path / 'fresh.db'}")
    client = create_app(settings, engine).server.test_client()
    assert client.get("/healthz").status_code == 200
    sign_in(client, add_organisation(engine, "org-a")["leadership"])
    outputs = post_overview(client, "2025-01-01", "2025-01-31")
    assert outputs["influence-rate"] == "—"
    engine.dispose()


def test_pages_carry_a_content_security_policy_that_allows_only_dash_s_own_inline_script(
    client: FlaskClient, visitor: FlaskClient
) -> None:
    for response in (client.get("/"), visitor.get("/login")):
        policy = response.headers["Content-Security-Policy"]
        assert "frame-ancestors 'none'" in policy and "object-src 'none'" in policy
        scripts = policy.split("script-src ")[1].split(";")[0].split()
        assert scripts[0] == "'self'" and all(source.startswith("'sha256-") for source in scripts[1:])
        assert "unsafe-inline" not in policy.split("style-src")[0], "no inline script but Dash's own, by hash"


def test_a_temporary_password_keeps_the_dashboard_closed_until_replaced(
    server: Flask, accounts: dict[str, dict[str, str]], involvement: Engine
) -> None:
    from sqlmodel import select

    from impact.auth.accounts import StaffAccount

    email = accounts["org-a"]["leadership"]
    with Session(involvement) as session:
        account = session.exec(select(StaffAccount).where(StaffAccount.email == email)).one()
        account.must_change_password = True
        session.add(account)
        session.commit()
    client = server.test_client()
    sign_in(client, email)
    response = client.get("/")
    assert response.status_code == 403 and "choose your own password first" in response.get_data(as_text=True)
    assert (
        client.post("/_dash-update-component", json=callback_body(date(2026, 1, 1), date(2026, 2, 1))).status_code
        == 403
    )
