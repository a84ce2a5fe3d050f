"""In a real (headless) browser: finding records. A picker's search by keyboard alone (the server finds people
beyond the first hundred listed, a live region says how many), the same without JavaScript, the searchable
lists, axe's WCAG checks of them, and no sideways scrolling at 320 px on the lists and records that need
attention.
"""

from __future__ import annotations

import re
import uuid
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from sqlmodel import Session

from schemas.readmodels import Contribution, ContributionParticipant, Participant
from tests.system.browser import Browser, Page, axe_violations, describe, expect, screenshot, sign_in
from tests.system.staff_browser import Stack, held, press, registered, visit

pytestmark = pytest.mark.timeout(300)

ORG = "search-org"
PEOPLE = 130  # more than a picker lists (100) before a search
REJECTED = str(uuid.UUID("5e4d3c2b-1a09-4f8e-8d7c-6b5a49382716"))


@pytest.fixture(scope="module")
def world(stack: Stack) -> dict[str, str]:
    """An organisation of 130 people (Zoe 100 to Zoe 129 sort last by name), an activity of 2 hours, 30
    contributions, and an attendance of 5 hours at that activity, refused: a record that needs attention."""
    accounts = stack.organisation(ORG)
    start = datetime.now(UTC) - timedelta(days=30)
    with Session(stack.engine) as session:
        for number in range(PEOPLE):
            name = f"Zoe {number}" if number >= 100 else f"Person {number:03d}"
            session.add(
                Participant(
                    org_id=ORG,
                    participant_id=f"p-{number:04d}",
                    display_name=name,
                    role="carer",
                    registered_at=start + timedelta(minutes=number),
                )
            )
        for number in range(30):
            said = Contribution(
                org_id=ORG,
                contribution_id=f"c-{number:03d}",
                area="support",
                text=f"Point {number}: more large print, please",
                made_on=start.date() + timedelta(days=number),
            )
            session.add(said)
            session.add(
                ContributionParticipant(org_id=ORG, contribution_id=said.contribution_id, participant_id="p-0001")
            )
        session.commit()
    stack.seed(ORG, held("a-panel", "Carers' panel", hours=2), registered("p-amira", "Amira Khan"))
    stack.process()
    attended = {"activity_id": "a-panel", "participant_id": "p-amira", "hours": 5, "session_role": "attendee"}
    stack.reject(ORG, REJECTED, ("session.attended", attended))
    return accounts


@pytest.fixture
def staff(stack: Stack, world: dict[str, str], page: Page) -> Page:
    sign_in(page, stack.ingest, world["staff"])
    return page


def focused(page: Page) -> Any:
    return page.evaluate("() => { const e = document.activeElement; return [e.tagName, e.id, e.value || ''] }")


def test_a_picker_finds_anyone_by_keyboard_alone(stack: Stack, staff: Page) -> None:
    page = staff
    visit(page, f"{stack.ingest}/staff/activities/a-panel/attendance")
    boxes = page.locator("#participant-list input[type=checkbox]")
    expect(boxes).to_have_count(100)
    expect(page.get_by_role("checkbox", name=re.compile("Zoe 129"))).to_have_count(0)

    page.get_by_label("Find a person").focus()
    page.keyboard.type("zoe 129")
    expect(page.locator("#participant-filter-status")).to_have_text("1 match.")  # the live region says so
    page.keyboard.press("Enter")  # searches; never sends the form
    expect(page).to_have_url(re.compile(r"/attendance$"))
    page.keyboard.press("Tab")
    assert focused(page)[0] == "BUTTON", focused(page)  # the Search button
    page.keyboard.press("Tab")
    assert focused(page)[2] == "p-0129", "the next stop is the box the server found"
    page.keyboard.press("Space")
    expect(page.get_by_role("checkbox", name=re.compile(r"Zoe 129 \(p-0129\)"))).to_be_checked()

    # A new search keeps what is ticked, and adds only the new matches.
    page.get_by_label("Find a person").fill("zoe 12")
    expect(page.locator("#participant-filter-status")).to_have_text("11 matches.")  # Zoe 112 and Zoe 120 to 129
    expect(page.locator("#participant-list input[type=checkbox]:checked")).to_have_count(1)
    expect(page.locator("#participant-list input[type=checkbox]:visible")).to_have_count(11)
    screenshot(page, "picker-search-found")

    page.get_by_label("Hours each").fill("1")
    press(page, "Record attendance")
    expect(page.get_by_role("status").filter(has_text="Attendance recorded")).to_contain_text("1 person")


def test_a_picker_searches_without_javascript(stack: Stack, world: dict[str, str], browser: Browser) -> None:
    context = browser.new_context(viewport={"width": 1280, "height": 900}, java_script_enabled=False)
    try:
        page = context.new_page()
        sign_in(page, stack.ingest, world["staff"])
        visit(page, f"{stack.ingest}/staff/activities/a-panel/attendance")
        page.get_by_role("checkbox", name=re.compile(r"Person 001")).check()
        page.get_by_label("Find a person").fill("zoe 128")
        with page.expect_navigation():
            page.get_by_role("button", name=re.compile(r"^Search\W+find a person$")).click()
        expect(page.locator("#participant-filter-status")).to_have_text("1 match for “zoe 128”.")
        expect(page.get_by_role("checkbox", name=re.compile("Person 001"))).to_be_checked()
        expect(page.get_by_role("checkbox", name=re.compile("Zoe 128"))).not_to_be_checked()
        expect(page.locator("#participant-list input[type=checkbox]")).to_have_count(2)
        assert "csrf_token" not in page.url
        screenshot(page, "picker-search-without-javascript")
    finally:
        context.close()


LISTS = [
    ("participants", "/staff/participants?q=zoe", "Showing 1\N{EN DASH}25 of 30 participants"),
    ("participants-page-2", "/staff/participants?page=2", "Showing 26\N{EN DASH}50 of 131 participants"),
    ("contributions", "/staff/contributions?q=print", "Showing 1\N{EN DASH}25 of 30 contributions"),
    ("activities", "/staff/activities?q=panel", "Showing 1\N{EN DASH}1 of 1 activity"),
    ("changes", "/staff/changes?q=nothing", "No changes match"),
    ("problems", "/staff/problems/", "Hours must be more than 0 and at most the activity's length, 2 hours."),
    ("problem", f"/staff/problems/{REJECTED}", "Hours must be more than 0 and at most the activity's length, 2 hours."),
]


@pytest.mark.parametrize(("name", "path", "shown"), LISTS, ids=[case[0] for case in LISTS])
def test_lists_have_no_wcag_violations_and_fit_320_px(
    stack: Stack, staff: Page, axe: str, name: str, path: str, shown: str
) -> None:
    page = staff
    visit(page, f"{stack.ingest}{path}")
    expect(page.locator("main")).to_contain_text(shown)
    violations = axe_violations(page, axe)
    assert violations == [], describe(violations)
    page.set_viewport_size({"width": 320, "height": 800})
    screenshot(page, f"search-{name}-320")
    width = page.evaluate("document.documentElement.scrollWidth")
    assert width <= 320, f"{path} is {width} px wide at 320 px: it scrolls sideways"


def test_a_picker_with_matches_has_no_wcag_violations(stack: Stack, staff: Page, axe: str) -> None:
    page = staff
    visit(page, f"{stack.ingest}/staff/activities/a-panel/attendance")
    page.get_by_label("Find a person").fill("zoe")
    expect(page.locator("#participant-filter-status")).to_have_text("25+ matches.")
    violations = axe_violations(page, axe)
    assert violations == [], describe(violations)


def test_a_list_is_searched_and_paged_by_keyboard(stack: Stack, staff: Page) -> None:
    page = staff
    visit(page, f"{stack.ingest}/staff/participants")
    page.get_by_role("searchbox", name="Search participants").focus()
    page.keyboard.type("amira")
    with page.expect_navigation():
        page.keyboard.press("Enter")
    expect(page.get_by_role("status").filter(has_text="Showing")).to_have_text(
        "Showing 1\N{EN DASH}1 of 1 participant matching “amira”."
    )
    expect(page.get_by_role("link", name="Amira Khan")).to_be_visible()
    visit(page, f"{stack.ingest}/staff/participants")
    with page.expect_navigation():
        page.get_by_role("link", name=re.compile("^Next page")).press("Enter")
    expect(page).to_have_url(re.compile(r"page=2$"))
