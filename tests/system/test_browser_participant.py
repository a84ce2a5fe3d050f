"""A participant's own page in a real (headless) browser: opened from a private link with no sign-in, read,
printed, at 320px wide, by keyboard; refused when the link expired or was tampered with; and axe-core's
WCAG 2.0-2.2 A/AA checks on the page and on each refusal.

The dashboard is served once for the module on a free port, on one SQLite file seeded (as events, then
processed) by tests/dashboard/test_participant_page.py's seed. Screenshots go to test-artifacts/.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from datetime import timedelta
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import Engine

from impact.db import create_tables, make_engine
from impact.feedback import links
from impact.settings import Settings
from processors.quality import QualityGate
from tests.dashboard.test_participant_page import ADA, BEN, NOW, ORG_A, SAID, flipped, seed
from tests.factories import settings_for_test
from tests.system.browser import (
    Browser,
    Page,
    axe_violations,
    describe,
    expect,
    screenshot,
    serve,
)

pytestmark = pytest.mark.timeout(300)


@dataclass
class Served:
    settings: Settings
    engine: Engine
    url: str

    def link(self, participant_id: str = "p1", **kwargs: Any) -> str:
        """The full address of a new link for an org-a participant (kwargs: days, now)."""
        kwargs.setdefault("days", self.settings.participant_link_days)
        with self.engine.begin() as conn:
            token, _expires = links.create(
                conn, secret_key=self.settings.signing_key, org_id="org-a", participant_id=participant_id, **kwargs
            )
        return f"{self.url}/you/{token}"


@pytest.fixture(scope="module")
def served(tmp_path_factory: pytest.TempPathFactory, gate: QualityGate) -> Iterator[Served]:
    root: Path = tmp_path_factory.mktemp("participant-browser")
    settings = settings_for_test(
        root / "var",
        database_url=f"sqlite:///{root / 'impact.db'}",
        topic="events",
        dead_letter_topic="dead-letters",
        consumer_group="participant-browser-tests",
        reference_wait_seconds=0,
    )
    engine = make_engine(settings.sqlalchemy_url)
    create_tables(engine)
    seed(settings, engine, gate)
    from dashboard import create_app as create_dashboard

    with serve(create_dashboard(settings, engine).server) as url:
        yield Served(settings, engine, url)
    engine.dispose()


@dataclass
class Watched:
    page: Page
    errors: list[str]


@pytest.fixture
def watched(browser: Browser) -> Iterator[Watched]:
    """A page in a fresh context (no cookies: nobody is signed in); fails the test if a script threw, a
    dialog opened or the browser reported an error (a Content-Security-Policy violation, say)."""
    context = browser.new_context(viewport={"width": 1280, "height": 900}, locale="en-GB", timezone_id="UTC")
    page = context.new_page()
    errors: list[str] = []
    page.on("pageerror", lambda error: errors.append(f"script: {error}"))
    page.on("console", lambda message: errors.append(message.text) if message.type == "error" else None)

    def dialog(d: Any) -> None:
        errors.append(f"dialog: {d.message}")
        d.dismiss()

    page.on("dialog", dialog)
    yield Watched(page, errors)
    context.close()


def _no_violations(page: Page, axe: str) -> None:
    violations = axe_violations(page, axe)
    assert violations == [], describe(violations)


def test_the_page_opens_from_its_link_without_signing_in(served: Served, watched: Watched, axe: str) -> None:
    page = watched.page
    response = page.goto(served.link())
    assert response is not None and response.status == 200
    assert response.headers["cache-control"] == "no-store"
    expect(page.get_by_role("heading", level=1)).to_have_text(f"Hello {ADA}")
    expect(page.get_by_role("banner")).to_contain_text(ORG_A)
    expect(page.locator("blockquote").first).to_contain_text(SAID["c3"])  # the newest something was decided about
    expect(page.get_by_role("heading", name="Still being decided: 2 things you said")).to_be_visible()
    expect(page.locator("blockquote").filter(has_text=SAID["c1"])).to_be_visible()
    expect(page.get_by_text("The letters are set by the NHS trust")).to_be_visible()  # why it was declined
    expect(page.get_by_text("This page's link works until")).to_be_visible()
    assert BEN not in page.content()
    assert page.evaluate("document.title").startswith("What came of what you told")
    _no_violations(page, axe)
    screenshot(page, "participant-page")
    assert watched.errors == []


def test_the_page_prints_without_its_button(served: Served, watched: Watched, axe: str) -> None:
    page = watched.page
    page.goto(served.link())
    button = page.get_by_role("button", name="Print this page")
    expect(button).to_be_visible()  # the script shows it
    page.evaluate("() => { window.print = () => { window.printed = true; }; }")
    button.click()
    assert page.evaluate("window.printed === true"), "the button opens the print dialog"

    page.emulate_media(media="print")
    expect(button).to_be_hidden()
    expect(page.locator("blockquote").first).to_be_visible()
    colour = page.evaluate("getComputedStyle(document.body).color")
    background = page.evaluate("getComputedStyle(document.body).backgroundColor")
    assert (colour, background) == ("rgb(0, 0, 0)", "rgb(255, 255, 255)")
    kept_whole = page.evaluate("getComputedStyle(document.querySelector('.story')).breakInside")
    assert kept_whole == "avoid"
    screenshot(page, "participant-page-print")
    page.emulate_media(media="screen")
    assert watched.errors == []


@pytest.mark.parametrize(("width", "name"), [(320, "320px wide"), (640, "200% zoom of 1280px")])
def test_the_page_reflows_without_scrolling_sideways(served: Served, watched: Watched, width: int, name: str) -> None:
    page = watched.page
    page.set_viewport_size({"width": width, "height": 800})
    page.goto(served.link())
    expect(page.get_by_role("heading", level=1)).to_be_visible()
    overflow = page.evaluate("document.documentElement.scrollWidth - document.documentElement.clientWidth")
    assert overflow <= 0, f"at {name} the page scrolls sideways by {overflow}px"
    size = page.evaluate("parseFloat(getComputedStyle(document.body).fontSize)")
    assert size >= 18, "an 18px base font"
    if width == 320:
        screenshot(page, "participant-page-320px")


def test_the_skip_link_and_focus_are_visible_from_the_keyboard(served: Served, watched: Watched) -> None:
    page = watched.page
    page.goto(served.link())
    page.keyboard.press("Tab")
    skip = page.get_by_role("link", name="Skip to main content")
    expect(skip).to_be_focused()
    expect(skip).to_be_in_viewport()
    page.keyboard.press("Enter")
    assert page.evaluate("document.activeElement.id") == "main"
    page.keyboard.press("Tab")
    button = page.get_by_role("button", name="Print this page")
    expect(button).to_be_focused()
    outline = page.evaluate("getComputedStyle(document.activeElement).outlineStyle")
    assert outline == "solid", "focus is visible"


@pytest.mark.parametrize(
    ("kind", "status", "heading"),
    [
        ("expired", 410, "This link has expired"),
        ("tampered", 404, "This link does not work"),
        ("revoked", 410, "This link no longer works"),
    ],
)
def test_a_link_that_does_not_open_is_refused_and_says_what_to_do(
    served: Served, watched: Watched, axe: str, kind: str, status: int, heading: str
) -> None:
    page = watched.page
    if kind == "expired":
        address = served.link(days=7, now=NOW - timedelta(days=8))
    elif kind == "tampered":
        address = flipped(served.link())
    else:
        address = served.link(participant_id="p3")
        with served.engine.begin() as conn:
            links.revoke(conn, org_id="org-a", participant_id="p3")
    response = page.goto(address)
    assert response is not None and response.status == status
    expect(page.get_by_role("heading", level=1)).to_have_text(heading)
    expect(page.get_by_role("main")).to_contain_text("ask the charity that sent you this link for a new one")
    content = page.content()
    for whose in (ADA, ORG_A, SAID["c1"]):
        assert whose not in content
    _no_violations(page, axe)
    screenshot(page, f"participant-page-{kind}")
    errors = [e for e in watched.errors if "status of" not in e]  # the 404/410 itself is logged as a console error
    assert errors == []
