"""One sign-in for the staff pages and the dashboard, in Chromium (issue 16).

Ingest and the dashboard are served on two ports of 127.0.0.1, as `make run` and docker-compose.yml serve
them, with settings that name those ports (each links to the other on the browser's host and the other's
port). Signing in on either opens both; roles limit what each person opens as before; signing out on either
ends both, an open dashboard tab included; the sign-in pages and the changed headers have no WCAG violation.
Screenshots at 1280 and 320 px go to test-artifacts/signin-*.png. The same rules through the HTTP layer, for
every role, are in tests/impact/auth/test_single_sign_in.py.
"""

from __future__ import annotations

import re
import threading
from collections.abc import Iterator
from contextlib import ExitStack, contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
from sqlmodel import Session
from werkzeug.serving import make_server

from dashboard import create_app as create_dashboard
from impact.auth.accounts import Role, create_account, create_organisation
from impact.db import create_tables, make_engine
from impact.eventlog import open_event_log
from ingest import create_app as create_ingest
from tests.factories import PASSWORD, free_port, settings_for_test
from tests.system.browser import WCAG_TAGS, Page, axe_violations, describe, expect, screenshot, sign_in
from tests.system.staff_browser import Tabs, heading, visit

ORG, ORG_NAME = "mind-leeds", "Mind in Leeds"
# named as the demo names its accounts: the header must still name the organisation once
NAMES = {role: f"Demo {role} ({ORG_NAME})" for role in ("staff", "leadership", "admin")}
SIGNED_IN_AS = {role: f"Signed in as Demo {role} · {ORG_NAME}" for role in NAMES}


@dataclass(frozen=True)
class Both:
    ingest: str
    dashboard: str
    accounts: dict[str, str]  # role -> e-mail


@contextmanager
def _served(app: Any, port: int) -> Iterator[str]:
    """`app` on 127.0.0.1:`port` (the port its settings name), in a background thread."""
    server = make_server("127.0.0.1", port, app, threaded=True)
    thread = threading.Thread(target=server.serve_forever, name=f"wsgi-{port}", daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{port}"
    finally:
        server.shutdown()
        server.server_close()
        thread.join(timeout=10)


@pytest.fixture(scope="module")
def both(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Both]:
    root: Path = tmp_path_factory.mktemp("signin")
    ingest_port, dashboard_port = free_port(), free_port()
    while dashboard_port == ingest_port:
        dashboard_port = free_port()
    settings = settings_for_test(
        root / "var",
        database_url=f"sqlite:///{root / 'impact.db'}",
        ingest_port=ingest_port,
        dashboard_port=dashboard_port,
    )
    engine = make_engine(settings.sqlalchemy_url)
    create_tables(engine)
    accounts = {}
    with Session(engine) as session:
        create_organisation(session=session, org_id=ORG, name=ORG_NAME)
        for role, name in NAMES.items():
            email = f"{role}@{ORG}.example.org"
            create_account(session=session, org_id=ORG, email=email, name=name, role=Role(role), password=PASSWORD)
            accounts[role] = email
        session.commit()
    with ExitStack() as stack:
        event_log = stack.enter_context(open_event_log(settings))
        ingest = stack.enter_context(_served(create_ingest(settings, event_log, engine=engine), ingest_port))
        dashboard = stack.enter_context(_served(create_dashboard(settings, engine).server, dashboard_port))
        yield Both(ingest, dashboard, accounts)
    engine.dispose()


def dashboard_open(page: Page) -> None:
    """The dashboard page itself (not its sign-in page), its frame filled in by the callback."""
    expect(page.locator("#signed-in")).to_be_visible()
    expect(page.locator("#page-title")).not_to_have_text("Loading the figures…", timeout=30_000)


def look(page: Page, name: str, axe: str, *, header_only: bool = False) -> None:
    """Screenshots at 1280 and 320 px wide, and no WCAG A/AA violation at either width: in the whole page, or
    (`header_only`, for the dashboard's pages, whose figures tests/system/test_browser_accessibility.py checks)
    in its header, which this change is about."""
    for width in (1280, 320):
        page.set_viewport_size({"width": width, "height": 900})
        screenshot(page, f"signin-{name}-{width}")
        violations = header_violations(page, axe) if header_only else axe_violations(page, axe)
        assert violations == [], f"{name} at {width} px: " + describe(violations)
    page.set_viewport_size({"width": 1280, "height": 900})


def header_violations(page: Page, axe: str) -> list[dict[str, Any]]:
    """axe-core's WCAG A/AA violations within the page's header (the banner) only."""
    page.evaluate(axe)
    options = {"runOnly": {"type": "tag", "values": list(WCAG_TAGS)}, "resultTypes": ["violations"]}
    results: dict[str, Any] = page.evaluate("options => axe.run({include: [['header.site-header']]}, options)", options)
    return list(results["violations"])


def test_sign_in_on_the_staff_pages_then_open_the_dashboard_without_signing_in_again(
    both: Both, tabs: Tabs, axe: str
) -> None:
    page = tabs.open()
    visit(page, f"{both.ingest}/login")
    expect(heading(page)).to_have_text("Sign in")
    expect(page.locator("main")).to_contain_text("One sign-in opens both the staff pages and the dashboard.")
    look(page, "ingest-login", axe)

    sign_in(page, both.ingest, both.accounts["leadership"])
    banner = page.get_by_role("banner")
    expect(banner.locator(".signed-in")).to_have_text(SIGNED_IN_AS["leadership"])
    look(page, "ingest-leadership-start", axe)

    page.get_by_role("main").get_by_role("link", name="Open the dashboard").click()
    expect(page).to_have_url(f"{both.dashboard}/")  # the dashboard itself, not its sign-in page
    dashboard_open(page)
    expect(page.locator("#signed-in")).to_have_text(SIGNED_IN_AS["leadership"])
    look(page, "dashboard-leadership", axe, header_only=True)

    # leadership's way back: the one staff page theirs, choosing their own password, still signed in
    page.get_by_role("banner").get_by_role("link", name="Change your password").click()
    expect(heading(page)).to_have_text(re.compile("password", re.IGNORECASE))
    expect(page).to_have_url(f"{both.ingest}/account/password")


def test_sign_in_on_the_dashboard_then_open_the_staff_pages_and_back(both: Both, tabs: Tabs, axe: str) -> None:
    page = tabs.open()
    page.goto(both.dashboard)
    expect(page).to_have_url(re.compile(r"/login\?next=(/|%2F)$"))  # signed out: the dashboard's sign-in page
    look(page, "dashboard-login", axe)
    sign_in(page, both.dashboard, both.accounts["admin"])
    dashboard_open(page)
    expect(page.locator("#signed-in")).to_have_text(SIGNED_IN_AS["admin"])
    look(page, "dashboard-admin", axe, header_only=True)

    page.get_by_role("banner").get_by_role("link", name="Staff pages").click()
    expect(page).to_have_url(f"{both.ingest}/")  # the start page: what an admin can do there
    expect(page.get_by_role("banner").locator(".signed-in")).to_have_text(SIGNED_IN_AS["admin"])
    look(page, "ingest-admin-header", axe)

    page.get_by_role("navigation", name="Main").get_by_role("link", name="Dashboard").click()
    expect(page).to_have_url(f"{both.dashboard}/")
    dashboard_open(page)


def test_staff_still_cannot_open_the_dashboard_and_are_sent_back(both: Both, tabs: Tabs, axe: str) -> None:
    page = tabs.open()
    sign_in(page, both.ingest, both.accounts["staff"])
    nav = page.get_by_role("navigation", name="Main")
    expect(nav.get_by_role("link", name="Record involvement")).to_be_visible()
    expect(nav.get_by_role("link", name="Dashboard")).to_have_count(0)

    visit(page, both.dashboard, 403)
    expect(heading(page)).to_have_text("You cannot use the dashboard")
    look(page, "dashboard-refused-staff", axe)
    page.get_by_role("link", name="Go to the staff pages").click()
    expect(page).to_have_url(re.compile(re.escape(both.ingest) + r"/(staff/)?$"))
    expect(page.get_by_role("banner").locator(".signed-in")).to_have_text(SIGNED_IN_AS["staff"])

    # signing in on the dashboard's own page, staff are told the same, and the link needs no second sign-in
    other = tabs.open()
    sign_in(other, both.dashboard, both.accounts["staff"])
    expect(heading(other)).to_have_text("You cannot use the dashboard")
    other.get_by_role("link", name="Go to the staff pages").click()
    expect(other.get_by_role("banner").locator(".signed-in")).to_have_text(SIGNED_IN_AS["staff"])


@pytest.mark.parametrize("signed_out_on", ["ingest", "dashboard"])
def test_signing_out_on_either_ends_both_and_an_open_dashboard_tab_goes_to_sign_in(
    both: Both, tabs: Tabs, signed_out_on: str
) -> None:
    staff_tab = tabs.open()
    sign_in(staff_tab, both.ingest, both.accounts["admin"])
    board_tab = staff_tab.context.new_page()  # another tab of the same browser: the same cookie
    board_tab.goto(both.dashboard)
    dashboard_open(board_tab)

    leaving = staff_tab if signed_out_on == "ingest" else board_tab
    leaving.get_by_role("banner").get_by_role("button", name="Sign out").click()
    expect(leaving).to_have_url(re.compile(r"/login\?signed_out=1$"))
    expect(leaving.get_by_role("status")).to_contain_text("You have signed out.")

    if signed_out_on == "ingest":  # the dashboard left open: its next request finds the session over
        board_tab.get_by_role("link", name="Influence").click()
        expect(board_tab).to_have_url(re.compile(re.escape(both.dashboard) + r"/login\?next="))
    for base, path in ((both.ingest, "/staff/"), (both.dashboard, "/")):
        staff_tab.goto(f"{base}{path}")
        expect(staff_tab).to_have_url(re.compile(re.escape(base) + r"/login\?next="))
        expect(heading(staff_tab)).to_have_text("Sign in")
