"""In a real (headless) browser: axe-core's WCAG 2.0-2.2 A/AA checks of every staff page (ingest), empty and
with its errors. The dashboard's pages are checked in test_browser_accessibility.py."""

from __future__ import annotations

import pytest

from tests.system.staff_browser import CASES, Screen, SignedIn, Tabs, assert_no_wcag_violations

pytestmark = pytest.mark.timeout(300)


@pytest.mark.parametrize(("screen", "state"), [case for case in CASES if case.values[0].app != "dashboard"])
def test_every_page_has_no_wcag_violations(a11y: SignedIn, tabs: Tabs, axe: str, screen: Screen, state: str) -> None:
    assert_no_wcag_violations(a11y, tabs, axe, screen, state)
