"""Read your writes, in a real browser: after each save the page says what was saved and that it is being
saved, never the old state alone; once the processor has it the notice says "Saved." and the page shows it,
without a reload (saving.js); a refused record says so, with a link to correct it."""

from __future__ import annotations

import re

import pytest
from sqlmodel import Session, select

from schemas.readmodels import DeadLetter
from tests.factories import process_all
from tests.system.browser import Page, axe_violations, describe, expect, screenshot, sign_in
from tests.system.staff_browser import (
    TODAY,
    Stack,
    changed,
    heading,
    notice,
    press,
    registered,
    said,
    tick,
    visit,
)

pytestmark = pytest.mark.timeout(300)

BEING_SAVED = "It is being saved and will show here in a moment."
FOLLOWED = 15_000  # ms: the page asks every second; the processor here runs when the test says


def mark(page: Page) -> None:
    """Something only this load of the page has: gone if the page is loaded again."""
    page.evaluate("window.sameLoad = true")


def not_reloaded(page: Page) -> bool:
    return bool(page.evaluate("window.sameLoad === true"))


def narrow(page: Page, name: str) -> None:
    """At 320 px wide (WCAG reflow) the notice fits without scrolling sideways; a screenshot, then back to 1280."""
    page.set_viewport_size({"width": 320, "height": 900})
    assert page.evaluate("document.documentElement.scrollWidth") <= 320
    screenshot(page, name)
    page.set_viewport_size({"width": 1280, "height": 900})


def saving(page: Page, text: str) -> None:
    """The page after a save: what was saved, and that it is being saved, in its status region (focused)."""
    shown = notice(page, text)
    expect(shown).to_be_visible()
    expect(shown).to_contain_text(BEING_SAVED)
    expect(shown).to_be_focused()


def saved(page: Page, text: str) -> None:
    shown = notice(page, text)
    expect(shown).to_contain_text("Saved.", timeout=FOLLOWED)
    expect(shown).not_to_contain_text("being saved")


def test_each_save_shows_as_being_saved_then_saved_without_a_reload(stack: Stack, page: Page, axe: str) -> None:
    org = "saving-org"
    accounts = stack.organisation(org)
    stack.seed(
        org,
        registered("p-ann", "Ann Example"),
        registered("p-bo", "Bo Example"),
        registered("p-cy", "Cy Example"),
        said("c-lift", "p-ann", "Fix the lift at the day centre."),
        changed("ch-lift", "The lift is repaired", "c-lift"),
    )
    stack.process()
    sign_in(page, stack.ingest, accounts["staff"])

    # An activity: the attendance form opens at once, saying the activity is being saved.
    visit(page, f"{stack.ingest}/staff/activities/new")
    page.get_by_label("Title").fill("Lift users' meeting")
    page.get_by_label("Area of work").select_option(label="Training")
    page.get_by_role("radio", name=re.compile("^Consultation")).check()
    page.get_by_label("Date held").fill(TODAY.isoformat())
    page.get_by_label("Length in hours").fill("2")
    press(page, "Record activity")
    saving(page, "Activity recorded: Lift users' meeting")
    screenshot(page, "saving-activity-being-saved")
    mark(page)
    tick(page, "Find a person", "ann", "Ann Example")  # already filling in the form: it is kept as it is
    stack.process()
    saved(page, "Activity recorded: Lift users' meeting")
    expect(page.get_by_role("checkbox", name=re.compile("Ann Example"))).to_be_checked()
    expect(page.get_by_label("Find a person")).to_have_value("ann")
    assert not_reloaded(page)

    # Attendance of three: the activity's page says so above "no attendance yet", then shows them.
    tick(page, "Find a person", "bo", "Bo Example")
    tick(page, "Find a person", "cy", "Cy Example")
    page.get_by_label("Hours each").fill("1.5")
    press(page, "Record attendance")
    recorded = "Attendance recorded: 3 people at Lift users' meeting."
    saving(page, recorded)
    expect(heading(page)).to_have_text("Lift users' meeting")
    main = page.locator("main")
    if "No attendance recorded yet" in main.inner_text():
        expect(notice(page, recorded)).to_contain_text(BEING_SAVED)  # the old state only ever with the notice
    mark(page)
    stack.process()
    saved(page, recorded)
    for name in ("Ann Example", "Bo Example", "Cy Example"):
        expect(main.get_by_role("link", name=name, exact=True)).to_be_visible()
    expect(main).not_to_contain_text("No attendance recorded yet")
    assert not_reloaded(page)
    screenshot(page, "saving-attendance-saved")

    # A change's status: the change's page says it is being saved above the old status, then shows the new.
    visit(page, f"{stack.ingest}/staff/changes/ch-lift/status")
    page.get_by_role("radio", name=re.compile("^Implemented")).check()
    page.get_by_label("Date", exact=False).first.fill(TODAY.isoformat())
    press(page, "Update status")
    status = page.locator("dl.summary")
    saving(page, "The status of “The lift is repaired” is now implemented.")
    expect(status).to_contain_text("Proposed")  # not folded yet: shown only under the notice
    screenshot(page, "saving-status-being-saved")
    narrow(page, "saving-status-being-saved-320")
    violations = axe_violations(page, axe)
    assert violations == [], describe(violations)
    mark(page)
    stack.process()
    saved(page, "The status of “The lift is repaired” is now implemented.")
    expect(status).to_contain_text("Implemented")
    expect(status).not_to_contain_text("Proposed")
    assert not_reloaded(page)
    screenshot(page, "saving-status-saved")
    violations = axe_violations(page, axe)
    assert violations == [], describe(violations)


def test_a_refused_save_says_not_saved_and_links_to_needs_attention(stack: Stack, page: Page, axe: str) -> None:
    org = "refused-org"
    accounts = stack.organisation(org)
    stack.seed(org, registered("p-ann", "Ann Example"), ("activity.held", _held("a-short", hours=1)))
    stack.process()
    sign_in(page, stack.ingest, accounts["staff"])
    visit(page, f"{stack.ingest}/staff/activities/a-short/attendance")
    tick(page, "Find a person", "ann", "Ann Example")
    page.get_by_label("Hours each").fill("5")  # longer than the one-hour activity: the processor refuses it
    press(page, "Record attendance")
    saving(page, "Attendance recorded: 1 person")
    mark(page)

    process_all(stack.settings, stack.engine, stack.gate)
    with Session(stack.engine) as session:
        refused = session.exec(select(DeadLetter.event_id).where(DeadLetter.org_id == org)).all()
    assert len(refused) == 1
    stack.rejected.update(refused)  # made on purpose: the module's other tests expect no others

    shown = page.get_by_role("status").filter(has_text="Not saved")
    expect(shown).to_contain_text(
        "Not saved: the hours recorded for this person are longer than the activity itself lasted.", timeout=FOLLOWED
    )
    expect(shown).not_to_contain_text("Attendance recorded")  # no "recorded" above "not saved"
    link = shown.get_by_role("link", name="Correct it in Needs attention")
    expect(link).to_have_attribute("href", f"/staff/problems/{refused[0]}")
    expect(page.locator("main")).to_contain_text("No attendance recorded yet")
    assert not_reloaded(page)
    screenshot(page, "saving-refused")
    narrow(page, "saving-refused-320")
    violations = axe_violations(page, axe)
    assert violations == [], describe(violations)
    with page.expect_navigation():
        link.click()
    expect(heading(page)).to_contain_text("Correct")


def _held(activity_id: str, *, hours: float) -> dict[str, object]:
    return {
        "activity_id": activity_id,
        "title": "Short meeting",
        "area": "research",
        "level": "consultation",
        "date": TODAY.isoformat(),
        "duration_hours": hours,
    }
