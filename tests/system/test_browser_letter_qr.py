"""A printed letter's QR code in a real (headless) Chromium: drawn under the page's Content-Security-Policy,
named for screen readers, about 3 cm wide on paper, and the batch still fits 320 px. The code itself is
checked module by module in tests/ingest/test_letter_qr.py; here is what a person sees and prints.
Screenshots and a PDF of the printed batch go to test-artifacts/.
"""

from __future__ import annotations

import re
from typing import Any

import pytest

from impact.eventlog import EventLog
from impact.feedback.outbox import State
from impact.settings import Settings
from processors.quality import QualityGate
from tests.ingest.feedback_world import ORG, World, build_world
from tests.system.browser import ARTIFACTS, Browser, screenshot, serve, sign_in

pytestmark = pytest.mark.timeout(300)

MM = 96 / 25.4  # CSS pixels in a millimetre


@pytest.fixture
def world(settings: Settings, engine: Any, event_log: EventLog, gate: QualityGate) -> World:
    return build_world(settings, engine, event_log, gate)


def test_a_printed_letter_shows_a_qr_code_of_about_3_cm(world: World, browser: Browser) -> None:
    world.add_item("p-bea", "ch-1", State.letter, channel="post")
    context = browser.new_context(viewport={"width": 1280, "height": 900}, locale="en-GB", timezone_id="UTC")
    page = context.new_page()
    console: list[str] = []
    page.on("console", lambda message: console.append(message.text))
    try:
        with serve(world.app) as url:
            sign_in(page, url, f"staff@{ORG}.example.org")
            page.goto(f"{url}/staff/feedback/letters")
            page.get_by_role("button", name=re.compile("Open 1 letter")).click()
            page.wait_for_url(re.compile(r"/staff/feedback/letters/batch/"))

            code = page.get_by_role("img", name="QR code of the link to your page")
            assert code.count() == 1
            assert page.get_by_text("Or scan this code with your phone's camera.").is_visible()
            box = code.bounding_box()
            assert box and abs(box["width"] - 30 * MM) < 1 and abs(box["height"] - 30 * MM) < 1, box

            page.emulate_media(media="print")
            box = code.bounding_box()
            assert box and abs(box["width"] - 30 * MM) < 1, f"{box} is not 30 mm on paper"
            assert not page.locator(".no-print").is_visible(), "the staff's buttons are not printed"
            ARTIFACTS.mkdir(exist_ok=True)
            code.screenshot(path=str(ARTIFACTS / "letter-qr-print.png"))
            page.pdf(path=str(ARTIFACTS / "letters-batch-print.pdf"), format="A4", prefer_css_page_size=True)
            screenshot(page, "letters-batch-print-1280px")

            page.emulate_media(media="screen")
            page.set_viewport_size({"width": 320, "height": 800})
            width = page.evaluate("document.documentElement.scrollWidth")
            assert width == 320, f"the batch is {width}px wide at 320px: it scrolls sideways"
            right = page.evaluate("document.querySelector('.letter-qr').getBoundingClientRect().right")
            assert right <= 320
            screenshot(page, "letters-batch-qr-320px")
    finally:
        context.close()
    refused = [text for text in console if "Content Security Policy" in text or "Refused" in text]
    assert refused == [], "the page's Content-Security-Policy blocks nothing of the code"
