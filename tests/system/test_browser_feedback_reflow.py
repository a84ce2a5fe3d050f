"""Participants' messages and the feedback pages in a real (headless) Chromium at 320 px wide: the HTML
e-mail, a printed letter's page, the participant's page and its code form, the staff feedback list and
preview, and the admin contact form. None may scroll sideways (a data table may scroll inside its own
focusable region), and axe-core finds no WCAG 2.x A/AA violation. Screenshots go to test-artifacts/.
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from datetime import UTC, datetime
from typing import Any

import pytest
from sqlmodel import Session

from dashboard import create_app as create_dashboard
from impact.eventlog import EventLog
from impact.feedback import contact, links, outcomes, summaries
from impact.feedback.outbox import State
from impact.settings import Settings
from processors.quality import QualityGate
from tests.ingest.feedback_world import ORG, World, build_world
from tests.system.browser import Browser, Page, axe_violations, describe, screenshot, serve, sign_in

pytestmark = pytest.mark.timeout(300)

CONTACT = {
    "phone": "0113 496 0000",
    "postal_address": "Mind in Leeds House\n12 Example Street\nLeeds LS1 1AA",
    "reply_email": "hello@mind-leeds.example.org",
    "website": "https://www.mind-leeds.example.org/get-involved/you-said-we-did",
}
LONG_WORD = "Supercalifragilisticexpialidocious-and-even-longer-words-without-any-spaces-at-all"


@pytest.fixture
def world(settings: Settings, engine: Any, event_log: EventLog, gate: QualityGate) -> World:
    built = build_world(settings, engine, event_log, gate)
    with Session(engine) as db:
        contact.set_contact(session=db, org_id=ORG, values=CONTACT)
        db.commit()
    return built


@pytest.fixture
def narrow(browser: Browser) -> Iterator[Page]:
    context = browser.new_context(viewport={"width": 320, "height": 800}, locale="en-GB", timezone_id="UTC")
    page = context.new_page()
    yield page
    context.close()


def _fits(page: Page, what: str) -> None:
    width = page.evaluate("document.documentElement.scrollWidth")
    assert width == 320, f"{what} is {width}px wide at 320px: it scrolls sideways"


def _accessible(page: Page, axe: str) -> None:
    violations = axe_violations(page, axe)
    assert violations == [], describe(violations)


def _email_html(world: World) -> str:
    with world.engine.connect() as conn:
        person = outcomes.person(conn, ORG, "p-bea")
        news = outcomes.news(conn, ORG, "p-bea", ["ch-1", "ch-2"])
        details = contact.contact(conn, ORG)
    assert person is not None
    link = f"{world.settings.public_url}/you/{'x' * 95}"  # as long as the real ones, and longer
    summary = summaries.compose(person, news, organisation=details, link=link, link_expires=datetime.now(UTC).date())
    return summaries.email_document(summary, organisation=details)


def test_the_html_email_fits_320px_and_names_the_charity(world: World, narrow: Page, axe: str) -> None:
    html = _email_html(world)
    narrow.set_content(html)
    _fits(narrow, "the e-mail")
    text = narrow.inner_text("body")
    assert "Open your page" in text and "/you/" not in text, "a short link text, not the long address"
    for detail in ("0113 496 0000", "hello@mind-leeds.example.org", "12 Example Street", "Mind Leeds"):
        assert detail in text
    assert "stop these updates" in text
    screenshot(narrow, "feedback-email-320px")
    _accessible(narrow, axe)


def test_the_html_email_wraps_a_long_word_someone_wrote(world: World, narrow: Page) -> None:
    html = _email_html(world).replace("Send our letters in large print.", LONG_WORD * 3)
    narrow.set_content(html)
    _fits(narrow, "an e-mail quoting a very long word")


def test_the_letters_page_and_a_letter_fit_320px(world: World, narrow: Page, axe: str) -> None:
    world.add_item("p-bea", "ch-1", State.letter, channel="post")
    world.add_item("p-bea", "ch-2", State.letter, channel="post")
    with serve(world.app) as url:
        sign_in(narrow, url, f"staff@{ORG}.example.org")
        narrow.goto(f"{url}/staff/feedback/letters")
        _fits(narrow, "the letters to print")
        _accessible(narrow, axe)
        narrow.get_by_role("button", name=re.compile("Open 1 letter")).click()
        narrow.wait_for_url(re.compile(r"/staff/feedback/letters/batch/"))
        _fits(narrow, "the printed batch")
        code = narrow.locator(".letter-code strong").inner_text()
        assert re.fullmatch(r"[A-Z2-9]{5}-[A-Z2-9]{5}", code)
        narrow.reload()  # a reload shows the same batch: no "That did not work", no new link
        assert narrow.locator(".letter-code strong").inner_text() == code
        with world.engine.connect() as conn:
            assert links.live(conn, org_id=ORG, participant_id="p-bea") == 1
        letter = narrow.locator("article.letter").inner_text()
        assert "0113 496 0000" in letter and "Leeds LS1 1AA" in letter
        screenshot(narrow, "letters-batch-320px")
        _accessible(narrow, axe)
        narrow.set_viewport_size({"width": 1280, "height": 900})
        screenshot(narrow, "letters-batch-1280px")


def test_the_feedback_list_and_preview_fit_320px(world: World, narrow: Page, axe: str) -> None:
    world.add_item("p-cal", "ch-1", State.staff, channel="phone")
    with serve(world.app) as url:
        sign_in(narrow, url, f"staff@{ORG}.example.org")
        narrow.goto(f"{url}/staff/feedback/")
        _fits(narrow, "the feedback list")
        region = narrow.locator(".table-scroll").first
        assert region.get_attribute("tabindex") == "0" and region.get_attribute("role") == "region"
        # "Mark told" starts at the person's own channel: Cal asked for phone
        row = narrow.locator("form.told").first
        assert row.locator("input[value=phone]").is_checked()
        screenshot(narrow, "feedback-list-320px")
        _accessible(narrow, axe)
        narrow.goto(f"{url}/staff/feedback/preview/p-bea/ch-2")
        _fits(narrow, "the feedback preview")
        assert "0113 496 0000" in narrow.inner_text("main")
        screenshot(narrow, "feedback-preview-320px")
        _accessible(narrow, axe)


def test_the_participant_page_and_code_form_fit_320px(world: World, narrow: Page, axe: str) -> None:
    with world.engine.begin() as conn:
        token, _ = links.create(
            conn, secret_key=world.settings.signing_key, org_id=ORG, participant_id="p-bea", days=30
        )
    with serve(create_dashboard(world.settings, world.engine).server) as url:
        narrow.goto(f"{url}/you/{token}")
        _fits(narrow, "the participant's page")
        main = narrow.inner_text("body")
        assert "What came of what you said" in main and "0113 496 0000" in main and "stop" in main
        screenshot(narrow, "participant-page-contact-320px")
        _accessible(narrow, axe)
        narrow.goto(f"{url}/you/")
        _fits(narrow, "the code form")
        _accessible(narrow, axe)
        narrow.get_by_label("Your code").fill("abcde fghjk")
        narrow.get_by_role("button", name="Open my page").click()
        assert "That code does not open a page" in narrow.inner_text("main")
        _fits(narrow, "the code form with its error")
        screenshot(narrow, "participant-code-error-320px")
        _accessible(narrow, axe)


def test_the_admin_contact_form_fits_320px(world: World, narrow: Page, axe: str) -> None:
    with serve(world.app) as url:
        sign_in(narrow, url, f"admin@{ORG}.example.org")
        narrow.goto(f"{url}/admin/contact")
        _fits(narrow, "the contact form")
        _accessible(narrow, axe)
        narrow.get_by_label("Phone number").fill("not a phone")
        narrow.get_by_role("button", name="Save contact details").click()
        assert "Enter a phone number" in narrow.inner_text("main")
        _fits(narrow, "the contact form with its error")
        screenshot(narrow, "admin-contact-error-320px")
        _accessible(narrow, axe)
        narrow.get_by_label("Phone number").fill("0113 496 0001")
        narrow.get_by_role("button", name="Save contact details").click()
        assert "Your contact details are saved" in narrow.inner_text("main")
        _fits(narrow, "the admin page")
        _accessible(narrow, axe)
        narrow.set_viewport_size({"width": 1280, "height": 900})
        narrow.locator("#contact-title").scroll_into_view_if_needed()
        screenshot(narrow, "admin-contact-saved-1280px")
