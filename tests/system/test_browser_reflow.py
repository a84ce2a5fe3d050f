"""In a real (headless) browser: every staff page reflows at 320 CSS pixels wide (WCAG 2.2, 1.4.10 Reflow), which
is what 1280 pixels at 400% zoom gives, and at 1280: the page never scrolls sideways. A wide data table may scroll
inside its own focusable region; nothing else may be wider than the window.
"""

from __future__ import annotations

import contextlib
from typing import Any

import pytest
from playwright.sync_api import Page
from playwright.sync_api import TimeoutError as PlaywrightTimeout

from tests.system.browser import expect, screenshot
from tests.system.staff_browser import SCREENS, Screen, SignedIn, Tabs, dashboard_drawn, visit

pytestmark = pytest.mark.timeout(300)

WIDTHS = (320, 1280)
# Pages that SCREENS does not list but staff open daily: found by following a link, as a person would.
FEEDBACK = (
    Screen("feedback", "/staff/feedback/"),
    Screen("feedback-preview", "/staff/feedback/"),  # opened by its first "Preview" link (below)
)

OVERFLOW = """() => {
  const width = document.documentElement.clientWidth;
  const scroller = el => {  // the nearest ancestor that scrolls sideways by itself and fits the window
    for (let p = el.parentElement; p && p !== document.body; p = p.parentElement) {
      const overflow = getComputedStyle(p).overflowX;
      if (overflow === 'auto' || overflow === 'scroll') return p.getBoundingClientRect().right <= width + 1;
    }
    return false;
  };
  const name = el => el.tagName.toLowerCase() + (el.id ? '#' + el.id : '')
    + (typeof el.className === 'string' && el.className ? '.' + el.className.trim().split(/\\s+/).join('.') : '');
  const wide = [];
  for (const el of document.body.querySelectorAll('*')) {
    const box = el.getBoundingClientRect();
    const style = getComputedStyle(el);
    // content spilling out of a box that does not scroll, past the window's edge (a long word in a <pre>)
    const spills = el instanceof HTMLElement && style.overflowX === 'visible' && el.clientWidth > 0
      && box.left + el.scrollWidth > width + 1;
    if ((box.width > 0 && box.right > width + 1 || spills) && !scroller(el)) {
      wide.push(`${name(el)} right=${Math.round(box.right)} scrollWidth=${el.scrollWidth}`);
    }
  }
  return {scrollWidth: document.documentElement.scrollWidth, width: width, wide: wide.slice(0, 8)};
}"""

# Each region that scrolls sideways: can a keyboard reach it (focusable itself, or holding something focusable), and
# what is it called (its label, or its table's caption)?
REGIONS = """() => [...document.body.querySelectorAll('*')].filter(el =>
  ['auto', 'scroll'].includes(getComputedStyle(el).overflowX) && el.scrollWidth > el.clientWidth + 1
).map(el => {
  el.focus();
  const focusable = document.activeElement === el
    || !!el.querySelector('a[href], button, input, select, textarea, [tabindex]:not([tabindex="-1"])');
  const labelled = el.getAttribute('aria-labelledby');
  const caption = el.tagName === 'TABLE' ? el.querySelector('caption') : null;
  const name = el.getAttribute('aria-label') || (labelled && document.getElementById(labelled)?.textContent)
    || caption?.textContent || '';
  return {tag: el.tagName.toLowerCase(), focusable: focusable, name: name.trim()};
})"""


def _open(a11y: SignedIn, tabs: Tabs, screen: Screen, width: int) -> Page:
    page = tabs.open(a11y.state(screen.app, screen.role) if screen.role else None)
    page.set_viewport_size({"width": width, "height": 800})
    visit(page, f"{a11y.base(screen.app)}{screen.path}", screen.status)
    if screen.name == "feedback-preview":
        link = page.locator("a[href*='/feedback/preview/']").first
        expect(link).to_be_attached()
        visit(page, f"{a11y.base(screen.app)}{link.get_attribute('href')}")
    if screen.app == "dashboard" and screen.role is not None and screen.path != "/report":
        dashboard_drawn(page)
    return page


CASES = [pytest.param(screen, id=screen.name) for screen in (*SCREENS, *FEEDBACK)]
FITS = f"() => ({OVERFLOW})().scrollWidth === document.documentElement.clientWidth && ({OVERFLOW})().wide.length === 0"


@pytest.mark.parametrize("screen", CASES)
def test_every_page_reflows_without_scrolling_sideways(a11y: SignedIn, tabs: Tabs, screen: Screen) -> None:
    """Each page opened once, at 1280 px, then narrowed to 320 px (the layout follows the window, as when a
    person zooms to 400%)."""
    page = _open(a11y, tabs, screen, WIDTHS[-1])
    for width in reversed(WIDTHS):
        page.set_viewport_size({"width": width, "height": 800})
        with contextlib.suppress(PlaywrightTimeout):  # a chart lays itself out again a moment after a resize;
            page.wait_for_function(FITS, timeout=5_000)  # if it never fits, the assertions below say what is wide
        measured: dict[str, Any] = page.evaluate(OVERFLOW)
        if width == 320:
            screenshot(page, f"reflow-{screen.name}-320")
        assert measured["scrollWidth"] == measured["width"] == width, (width, measured)
        assert measured["wide"] == [], (width, measured)
        # a region that scrolls sideways by itself can be reached and scrolled by keyboard, and is named
        for region in page.evaluate(REGIONS):
            assert region["focusable"] and region["name"], (width, region)
