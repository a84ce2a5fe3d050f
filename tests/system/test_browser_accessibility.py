"""In a real (headless) browser: axe-core's WCAG 2.0-2.2 A/AA checks of every page, empty and with its errors;
the error summary takes focus; the dashboard's filters in the URL and by keyboard alone.
"""

from __future__ import annotations

import re
from pathlib import Path

import pytest

from tests.system.browser import (
    expect,
    screenshot,
)
from tests.system.staff_browser import (
    CASES,
    FORMS,
    Screen,
    SignedIn,
    Tabs,
    assert_no_wcag_violations,
    dashboard_drawn,
    heading,
    visit,
)

pytestmark = pytest.mark.timeout(300)


def test_dashboard_filters_live_in_the_url_exports_download_and_pages_keep_them(a11y: SignedIn, tabs: Tabs) -> None:
    base = a11y.base("dashboard")
    page = tabs.open(a11y.state("dashboard", "leadership"))
    visit(page, f"{base}/")
    dashboard_drawn(page)
    expect(page).to_have_url(re.compile(r"/\?from=\d{4}-\d\d-\d\d&to=\d{4}-\d\d-\d\d$"))  # the URL names the view
    every_level = page.locator("#contributions").inner_text()

    # a filter change: the figures and the URL follow, and screen readers hear that the figures changed
    page.locator("#level").click()
    page.get_by_role("option", name="User-led").click()
    expect(page).to_have_url(re.compile(r"&level=user_led$"))
    expect(page.locator("#scope")).to_contain_text("level: User-led")
    expect(page.locator("#contributions")).not_to_have_text(every_level)
    expect(page.locator("#announcer")).to_have_text("Overview: figures updated.")
    user_led = page.locator("#contributions").inner_text()
    screenshot(page, "dashboard-filtered")

    # another page keeps the filters; focus moves to its heading; the tab's title names it
    page.get_by_role("link", name="Influence", exact=True).click()
    expect(page).to_have_url(re.compile(r"/influence\?from=.*&level=user_led$"))
    expect(heading(page)).to_have_text("Influence")
    expect(heading(page)).to_be_focused()
    expect(page).to_have_title("Influence \N{EN DASH} Involvement Impact")
    page.go_back()
    expect(heading(page)).to_have_text("Overview")
    expect(page.locator("#contributions")).to_have_text(user_led)

    # a bookmarked view opens as it was shared
    shared = page.url
    other = tabs.open(a11y.state("dashboard", "leadership"))
    visit(other, shared)
    expect(other.locator("#contributions")).to_have_text(user_led)
    expect(other.locator("#level")).to_contain_text("User-led")

    # the table under the chart downloads as CSV, with the same rows
    with page.expect_download() as download:
        page.get_by_role("link", name="Download “Monthly figures” as CSV").click()
    assert download.value.suggested_filename.startswith("overview-trend-")
    lines = Path(download.value.path()).read_text(encoding="utf-8-sig").splitlines()
    assert lines[1] == "Month,Contributions,Participants involved,Involvement hours,Changes influenced"
    rows = page.locator("#trend-table tbody tr")
    assert len(lines) - 2 == rows.count()
    last = [cell.strip() for cell in lines[-1].replace('"', "").split(",", 1)]
    expect(rows.last.locator("th")).to_have_text(last[0])

    # the printable report opens from the navigation with the same filters
    page.get_by_role("link", name="Annual report").click()
    expect(page).to_have_url(re.compile(r"/report\?from=.*&level=user_led$"))
    expect(heading(page)).to_contain_text("A11Y Org")


def test_the_dashboard_is_usable_by_keyboard_alone(a11y: SignedIn, tabs: Tabs) -> None:
    page = tabs.open(a11y.state("dashboard", "leadership"))
    visit(page, f"{a11y.base('dashboard')}/areas")
    dashboard_drawn(page)
    page.keyboard.press("Tab")
    expect(page.get_by_role("link", name="Skip to main content")).to_be_focused()
    page.keyboard.press("Enter")
    expect(page.locator("main")).to_be_focused()
    for _ in range(40):  # from the top of main, Tab reaches the area filter
        page.keyboard.press("Tab")
        if page.evaluate("document.activeElement.closest('#area') !== null"):
            break
    else:
        raise AssertionError("the area filter cannot be reached with Tab")
    page.keyboard.press("Enter")  # opens the list
    option = page.locator("input.dash-options-list-option-checkbox")
    for value in ("", "campaigning", "complaints"):  # "All areas", the chosen one, takes focus first
        if value:
            page.keyboard.press("ArrowDown")
        expect(option.and_(page.locator(f"[value='{value}']"))).to_be_focused()
    page.keyboard.press("Enter")
    expect(page).to_have_url(re.compile(r"&area=complaints\b"))
    expect(page.locator("#scope")).to_contain_text("area: Complaints")


# --- 3. Accessibility (axe-core, WCAG 2.0/2.1/2.2 A and AA) of every dashboard page ----------------------
# (the staff pages' in test_browser_wcag_staff.py: two files, so the two halves run on two workers)


@pytest.mark.parametrize(("screen", "state"), [case for case in CASES if case.values[0].app == "dashboard"])
def test_every_page_has_no_wcag_violations(a11y: SignedIn, tabs: Tabs, axe: str, screen: Screen, state: str) -> None:
    assert_no_wcag_violations(a11y, tabs, axe, screen, state)


# --- The error summary takes focus --------------------------------------------------------------


@pytest.mark.parametrize("screen", FORMS)
def test_the_error_summary_takes_focus(a11y: SignedIn, tabs: Tabs, screen: Screen) -> None:
    """Screen-reader and keyboard users land on the problems first (as _field.html's error_summary says)."""
    page = a11y.open(tabs, screen)
    assert screen.show_errors is not None
    screen.show_errors(page)
    expect(page.get_by_role("alert")).to_be_focused(timeout=2000)  # focused as the page loads, or never
