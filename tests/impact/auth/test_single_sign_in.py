"""One sign-in for both web services (issue 16), through the real apps served on two ports of 127.0.0.1.

A browser keeps cookies per host, not per port; so does the standard library's cookie jar, which these tests
use as the browser: signing in on either service opens both, roles are checked as before, signing out on
either ends both (every copy of the cookie too), CSRF holds on both, and each links to the other on the host
the browser used. The same journey in Chromium is tests/system/test_browser_signin.py.
"""

from __future__ import annotations

import json
import re
import threading
import urllib.error
import urllib.parse
import urllib.request
from collections.abc import Iterator
from contextlib import ExitStack, contextmanager
from dataclasses import dataclass
from http.cookiejar import CookieJar
from typing import Any

import pytest
from flask import Flask
from sqlalchemy import Engine
from sqlmodel import Session, select
from werkzeug.serving import make_server

from dashboard import create_app as create_dashboard
from impact.auth.accounts import StaffAccount
from impact.auth.sessions import SESSION_COOKIE, address_of, signed_in_as
from impact.eventlog import open_event_log
from impact.settings import Settings
from ingest import create_app as create_ingest
from tests.factories import PASSWORD, add_organisation, free_port

ORG, ORG_NAME = "mind-leeds", "Mind in Leeds"
CSRF = re.compile(r'name="csrf_token" value="([^"]+)"')


@dataclass
class Services:
    """Ingest and the dashboard, served on two ports of 127.0.0.1 with settings that name those ports."""

    ingest: str  # http://127.0.0.1:<port>
    dashboard: str
    ingest_port: int
    dashboard_port: int
    accounts: dict[str, str]  # role -> e-mail
    engine: Engine


@contextmanager
def _served(app: Flask, port: int) -> Iterator[str]:
    server = make_server("127.0.0.1", port, app, threaded=True)
    thread = threading.Thread(target=server.serve_forever, name=f"wsgi-{port}", daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{port}"
    finally:
        server.shutdown()
        server.server_close()
        thread.join(timeout=10)


@pytest.fixture
def services(settings: Settings, engine: Engine) -> Iterator[Services]:
    accounts = add_organisation(engine, ORG, name=ORG_NAME)
    ports = free_port(), free_port()
    while ports[1] == ports[0]:
        ports = ports[0], free_port()
    both = settings.model_copy(update={"ingest_port": ports[0], "dashboard_port": ports[1]})
    with ExitStack() as stack:
        event_log = stack.enter_context(open_event_log(both))
        ingest = stack.enter_context(_served(create_ingest(both, event_log, engine=engine), ports[0]))
        dashboard = stack.enter_context(_served(create_dashboard(both, engine).server, ports[1]))
        yield Services(ingest, dashboard, ports[0], ports[1], accounts, engine)


class _NoRedirects(urllib.request.HTTPRedirectHandler):
    def redirect_request(self, *args: Any, **kwargs: Any) -> None:
        return None  # the answer itself (302 and its Location) is what the tests look at


@dataclass
class Answer:
    status: int
    location: str
    text: str


class Browser:
    """A cookie jar that, like a browser, keeps cookies per host whatever the port."""

    def __init__(self) -> None:
        self.jar = CookieJar()
        self.opener = urllib.request.build_opener(urllib.request.HTTPCookieProcessor(self.jar), _NoRedirects)

    def get(self, url: str) -> Answer:
        return self._send(url)

    def post(self, url: str, data: dict[str, str]) -> Answer:
        return self._send(url, urllib.parse.urlencode(data).encode(), "application/x-www-form-urlencoded")

    def post_json(self, url: str, data: Any) -> Answer:
        return self._send(url, json.dumps(data).encode(), "application/json")

    def _send(self, url: str, body: bytes | None = None, content_type: str = "") -> Answer:
        assert url.startswith("http://"), url  # the services on this machine, nothing else
        headers = {"Content-Type": content_type} if content_type else {}
        method = "GET" if body is None else "POST"
        request = urllib.request.Request(url, data=body, headers=headers, method=method)  # noqa: S310 (a local URL)
        try:
            with self.opener.open(request, timeout=30) as response:
                return Answer(response.status, response.headers.get("Location", ""), response.read().decode())
        except urllib.error.HTTPError as answer:
            return Answer(answer.code, answer.headers.get("Location", ""), answer.read().decode())

    def token(self, url: str) -> str:
        found = CSRF.search(self.get(url).text)
        assert found, f"no CSRF token on {url}"
        return found.group(1)

    def sign_in(self, base: str, email: str, password: str = PASSWORD) -> Answer:
        token = self.token(f"{base}/login")
        answer = self.post(f"{base}/login", {"email": email, "password": password, "csrf_token": token})
        assert answer.status == 302, answer.text[:500]
        return answer

    def cookies(self) -> list[tuple[str, str, str]]:
        return [(cookie.domain, cookie.path, cookie.name) for cookie in self.jar]

    def copy_of_cookie(self) -> Browser:
        other = Browser()
        for cookie in self.jar:
            other.jar.set_cookie(cookie)
        return other


def opens(browser: Browser, url: str) -> bool:
    """200: the page opened; 302 to the sign-in page: signed out. Anything else fails the test."""
    answer = browser.get(url)
    assert answer.status in (200, 302), (url, answer.status)
    assert answer.status == 200 or urllib.parse.urlsplit(answer.location).path == "/login", answer.location
    return answer.status == 200


def dashboard_layout(browser: Browser, services: Services) -> dict[str, Any]:
    answer = browser.get(f"{services.dashboard}/_dash-layout")
    assert answer.status == 200, answer.text[:300]
    layout: dict[str, Any] = json.loads(answer.text)
    return layout


def by_id(tree: Any) -> dict[str, dict[str, Any]]:
    """Every component of a Dash layout that has an id: id -> its props."""
    return {props["id"]: props for props in _all_props(tree) if isinstance(props.get("id"), str)}


def sign_out_token(browser: Browser, services: Services, on: str) -> str:
    if on == "ingest":
        return browser.token(f"{services.ingest}/account/password")
    buttons = [
        props
        for props in _all_props(dashboard_layout(browser, services))
        if props.get("name") == "csrf_token" and props.get("type") == "submit"
    ]
    assert len(buttons) == 1
    return str(buttons[0]["value"])


def _all_props(tree: Any) -> Iterator[dict[str, Any]]:
    if isinstance(tree, list):
        for child in tree:
            yield from _all_props(child)
    elif isinstance(tree, dict) and "props" in tree:
        yield tree["props"]
        yield from _all_props(tree["props"].get("children"))


# --- Signing in on either opens both -------------------------------------------------------------


@pytest.mark.parametrize("role", ["leadership", "admin"])
def test_signing_in_on_the_staff_pages_opens_the_dashboard(services: Services, role: str) -> None:
    browser = Browser()
    assert not opens(browser, f"{services.dashboard}/"), "signed out at first"
    browser.sign_in(services.ingest, services.accounts[role])
    assert opens(browser, f"{services.dashboard}/"), "no second sign-in"
    header = by_id(dashboard_layout(browser, services))["signed-in"]
    assert header["children"] == f"Signed in as {role.title()} of {ORG} · {ORG_NAME}"
    assert browser.cookies() == [("127.0.0.1", "/", SESSION_COOKIE)], "one cookie, for the host, whatever the port"


def test_signing_in_on_the_dashboard_opens_the_staff_pages(services: Services) -> None:
    browser = Browser()
    answer = browser.sign_in(services.dashboard, services.accounts["admin"])
    assert answer.location == "/"
    assert opens(browser, f"{services.ingest}/staff/")
    assert opens(browser, f"{services.ingest}/admin/")
    assert (
        f'<p class="signed-in">Signed in as Admin of {ORG} · {ORG_NAME}</p>'
        in browser.get(f"{services.ingest}/staff/").text
    )


def test_staff_signing_in_on_the_dashboard_are_shown_the_way_to_the_staff_pages(services: Services) -> None:
    """Not redirected there: the dashboard's Content-Security-Policy (form-action 'self') would stop a sign-in
    form's redirect to another origin in the browser. The page says why, and links there."""
    browser = Browser()
    answer = browser.sign_in(services.dashboard, services.accounts["staff"])
    assert answer.location == "/"
    page = browser.get(f"{services.dashboard}/")
    assert page.status == 403 and f'href="//127.0.0.1:{services.ingest_port}/"' in page.text
    assert opens(browser, f"{services.ingest}/staff/"), "already signed in there"


# --- Roles are checked as before, whichever service the person signed in on ---------------------

# (service, path) -> the roles that open it; everyone else signed in gets 403
WHO_OPENS = {
    ("dashboard", "/"): {"leadership", "admin"},
    ("dashboard", "/report"): {"leadership", "admin"},
    ("ingest", "/"): {"staff", "leadership", "admin"},
    ("ingest", "/staff/"): {"staff", "admin"},
    ("ingest", "/staff/import/"): {"staff", "admin"},
    ("ingest", "/admin/"): {"admin"},
}


@pytest.mark.parametrize("signed_in_on", ["ingest", "dashboard"])
@pytest.mark.parametrize("role", ["staff", "leadership", "admin"])
def test_roles_open_what_they_did_before(services: Services, signed_in_on: str, role: str) -> None:
    browser = Browser()
    base = services.ingest if signed_in_on == "ingest" else services.dashboard
    browser.sign_in(base, services.accounts[role])
    for (service, path), roles in WHO_OPENS.items():
        url = f"{services.ingest if service == 'ingest' else services.dashboard}{path}"
        assert browser.get(url).status == (200 if role in roles else 403), (role, url)
    callback = {"output": "x", "inputs": [], "state": []}
    status = browser.post_json(f"{services.dashboard}/_dash-update-component", callback).status
    assert status == (403 if role == "staff" else 400), "staff get no figures; a reader's malformed callback: 400"


def test_the_dashboard_refuses_staff_with_a_way_to_the_staff_pages(services: Services) -> None:
    browser = Browser()
    browser.sign_in(services.ingest, services.accounts["staff"])
    page = browser.get(f"{services.dashboard}/")
    assert page.status == 403
    assert "<h1>You cannot use the dashboard</h1>" in page.text
    assert f'href="//127.0.0.1:{services.ingest_port}/"' in page.text and "Go to the staff pages" in page.text
    assert 'action="/logout"' in page.text, "or sign out, to sign in as someone else"


# --- Signing out on either ends both --------------------------------------------------------------


@pytest.mark.parametrize("signed_out_on", ["ingest", "dashboard"])
def test_signing_out_on_either_ends_both_and_every_copy(services: Services, signed_out_on: str) -> None:
    browser = Browser()
    browser.sign_in(services.ingest, services.accounts["admin"])
    copy = browser.copy_of_cookie()  # a copy of the cookie (another tab, a stolen cookie) made before
    private = (f"{services.ingest}/staff/", f"{services.dashboard}/")
    assert all(opens(browser, url) and opens(copy, url) for url in private)

    base = services.ingest if signed_out_on == "ingest" else services.dashboard
    token = sign_out_token(browser, services, signed_out_on)
    answer = browser.post(f"{base}/logout", {"csrf_token": token})
    assert (answer.status, answer.location) == (302, "/login?signed_out=1")

    for url in private:
        assert not opens(browser, url), f"{url} after signing out on {signed_out_on}"
        assert not opens(copy, url), f"the copy opens {url} after signing out on {signed_out_on}"
    assert browser.get(f"{services.dashboard}/_dash-layout").status == 401  # a page left open: to sign in


# --- CSRF holds on both ------------------------------------------------------------------------------


@pytest.mark.parametrize("on", ["ingest", "dashboard"])
def test_csrf_still_holds_on_both(services: Services, on: str) -> None:
    browser, someone_else = Browser(), Browser()
    browser.sign_in(services.ingest, services.accounts["admin"])
    someone_else.sign_in(services.dashboard, services.accounts["leadership"])
    theirs = sign_out_token(someone_else, services, on)  # a genuine token, of another session
    base = services.ingest if on == "ingest" else services.dashboard
    for data in ({}, {"csrf_token": "forged"}, {"csrf_token": theirs}):
        assert browser.post(f"{base}/logout", data).status == 400, data
    assert opens(browser, f"{services.ingest}/staff/") and opens(browser, f"{services.dashboard}/")
    assert opens(someone_else, f"{services.dashboard}/")


def test_a_cookie_from_another_host_name_is_not_sent(services: Services) -> None:
    """The cookie belongs to the host the browser used: 127.0.0.1's is not localhost's, so each service links
    to the other on the same host it was reached by (see the links tests below)."""
    browser = Browser()
    browser.sign_in(services.ingest, services.accounts["admin"])
    assert not opens(browser, f"http://localhost:{services.dashboard_port}/")


# --- Links between them, on the host the browser used --------------------------------------------


def test_leadership_and_admins_get_a_link_to_the_dashboard_and_staff_none(services: Services) -> None:
    dashboard = f'href="//127.0.0.1:{services.dashboard_port}/"'
    for role, links in (("leadership", 2), ("admin", 2), ("staff", 0)):
        browser = Browser()
        browser.sign_in(services.ingest, services.accounts[role])
        home = browser.get(f"{services.ingest}/")
        assert home.text.count(dashboard) == links, role  # in the header's navigation, and on the start page
        if role == "admin":  # every staff page's header
            staff = browser.get(f"{services.ingest}/staff/").text
            assert f"<li><a {dashboard}>Dashboard</a></li>" in staff


def test_the_dashboard_links_back_to_the_staff_pages(services: Services) -> None:
    expected = {
        "admin": ("Staff pages", f"//127.0.0.1:{services.ingest_port}/"),
        "leadership": ("Change your password", f"//127.0.0.1:{services.ingest_port}/account/password"),
    }
    for role, (text, href) in expected.items():
        browser = Browser()
        browser.sign_in(services.dashboard, services.accounts[role])
        link = by_id(dashboard_layout(browser, services))["staff-pages"]
        assert (link["children"], link["href"]) == (text, href), role
        assert opens(browser, f"{services.ingest}{urllib.parse.urlsplit('http:' + href).path}")


def test_a_temporary_password_is_chosen_on_the_staff_pages_then_the_dashboard_opens(services: Services) -> None:
    email = services.accounts["leadership"]
    with Session(services.engine) as session:
        account = session.exec(select(StaffAccount).where(StaffAccount.email == email)).one()
        account.must_change_password = True
        session.add(account)
        session.commit()
    browser = Browser()
    assert browser.sign_in(services.dashboard, email).location == "/"
    password_page = f"//127.0.0.1:{services.ingest_port}/account/password"
    refused = browser.get(f"{services.dashboard}/")
    assert refused.status == 403 and f'href="{password_page}"' in refused.text

    form = f"{services.ingest}/account/password"
    chosen = "my own long passphrase"
    data = {"csrf_token": browser.token(form), "current_password": PASSWORD, "new_password": chosen}
    assert browser.post(form, data).status == 302
    assert opens(browser, f"{services.dashboard}/"), "the new password's session is the dashboard's too"


# --- The words ----------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("name", "organisation", "expected"),
    [
        ("Ann Lee", "Mind in Leeds", "Signed in as Ann Lee · Mind in Leeds"),
        ("Demo admin (Mind in Leeds)", "Mind in Leeds", "Signed in as Demo admin · Mind in Leeds"),
        ("Demo admin (mind in leeds)", "Mind in Leeds", "Signed in as Demo admin · Mind in Leeds"),
        ("Jo, Mind in Leeds", "Mind in Leeds", "Signed in as Jo · Mind in Leeds"),
        ("Jo at Mind in Leeds", "Mind in Leeds", "Signed in as Jo · Mind in Leeds"),
        ("Jo \u2013 Mind in Leeds", "Mind in Leeds", "Signed in as Jo · Mind in Leeds"),
        ("Mind in Leeds", "Mind in Leeds", "Signed in as Mind in Leeds"),
        ("Leeds Mind user", "Mind in Leeds", "Signed in as Leeds Mind user · Mind in Leeds"),
        ("Ann", "", "Signed in as Ann"),
    ],
)
def test_the_header_names_the_organisation_once(name: str, organisation: str, expected: str) -> None:
    assert signed_in_as(name, organisation) == expected


@pytest.mark.parametrize(
    ("base_url", "expected"),
    [
        ("http://127.0.0.1:8001", "//127.0.0.1:8050/"),
        ("http://localhost:8001", "//localhost:8050/"),
        ("https://impact.example.org:8001", "//impact.example.org:8050/"),
        ("http://[::1]:8001", "//[::1]:8050/"),
    ],
)
def test_the_dashboard_is_linked_on_the_host_the_browser_used(
    settings: Settings, engine: Engine, base_url: str, expected: str
) -> None:
    with open_event_log(settings) as event_log:
        app = create_ingest(settings, event_log, engine=engine)
        with app.test_request_context("/", base_url=base_url):
            assert address_of("dashboard") == expected


def test_both_services_use_one_cookie_with_the_same_name_key_and_flags(settings: Settings, engine: Engine) -> None:
    with open_event_log(settings) as event_log:
        ingest = create_ingest(settings, event_log, engine=engine).config
    dashboard = create_dashboard(settings, engine).server.config
    shared = ("SECRET_KEY", "SESSION_COOKIE_NAME", "SESSION_COOKIE_PATH", "SESSION_COOKIE_DOMAIN")
    flags = ("SESSION_COOKIE_HTTPONLY", "SESSION_COOKIE_SAMESITE", "SESSION_COOKIE_SECURE")
    for key in shared + flags:
        assert ingest[key] == dashboard[key], key
    assert ingest["SESSION_COOKIE_NAME"] == SESSION_COOKIE
    assert (ingest["SESSION_COOKIE_HTTPONLY"], ingest["SESSION_COOKIE_SAMESITE"]) == (True, "Lax")
