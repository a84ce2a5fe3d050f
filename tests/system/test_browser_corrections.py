"""In a real (headless) browser: staff correct a participant's details and an activity and withdraw attendance
from the record pages; the pages say what happened (being saved, then saved), the history says what changed,
when, by whom and why, and the dashboard counts the corrected activity where it now belongs.
"""

from __future__ import annotations

import re

import pytest

from tests.system.browser import Page, axe_violations, expect, screenshot, sign_in
from tests.system.staff_browser import (
    Stack,
    Tabs,
    attended,
    dashboard_drawn,
    heading,
    held,
    press,
    visit,
)

pytestmark = pytest.mark.timeout(300)


def areas_row(page: Page, area: str) -> str:
    return (
        page.locator("table").first.get_by_role("row").filter(has=page.get_by_role("rowheader", name=area)).inner_text()
    )


def test_staff_correct_a_person_and_an_activity_and_the_dashboard_follows(
    stack: Stack, tabs: Tabs, dashboard_url: str, axe: str
) -> None:
    accounts = stack.organisation("fix-org")
    person = {
        "participant_id": "p-kim",
        "display_name": "Kim Smith",
        "role": "service_user",
        "contact": {"email": "kim@example.org"},
        "consent_to_contact": True,
        "preferred_channel": "email",
    }
    stack.seed("fix-org", ("participant.registered", person), held("a-fix", "Reserch panel", hours=2))
    stack.seed("fix-org", attended("a-fix", "p-kim", hours=2))
    stack.process()

    board = tabs.open()
    sign_in(board, dashboard_url, accounts["leadership"])
    visit(board, f"{dashboard_url}/areas")
    dashboard_drawn(board)
    assert areas_row(board, "Research").split()[-1] == "1", "the activity counts under Research"

    page = tabs.open()
    sign_in(page, stack.ingest, accounts["staff"])
    visit(page, f"{stack.ingest}/staff/participants/p-kim")
    page.get_by_role("link", name="Correct their details").click()
    expect(heading(page)).to_have_text("Correct Kim Smith\N{RIGHT SINGLE QUOTATION MARK}s details")
    expect(page.get_by_label("Name", exact=True)).to_have_value("Kim Smith")
    expect(page.get_by_label("E-mail address")).to_have_value("kim@example.org")
    page.get_by_label("E-mail address").fill("")
    page.get_by_label("Reason for the correction").fill("Left the e-mail")
    press(page, "Save the correction")
    expect(page.get_by_role("alert")).to_contain_text("They chose to hear from you by e-mail")
    assert axe_violations(page, axe) == []
    page.get_by_label("E-mail address").fill("kim.smith@example.org")
    page.get_by_label("Name", exact=True).fill("Kim Smith-Jones")
    page.get_by_label("Reason for the correction").fill("Married; new e-mail")
    press(page, "Save the correction")
    expect(page.get_by_role("status").filter(has_text="Details corrected for Kim Smith-Jones")).to_be_visible()
    stack.process()
    visit(page, f"{stack.ingest}/staff/participants/p-kim")
    expect(heading(page)).to_have_text("Kim Smith-Jones")
    history = page.get_by_role("region", name="History")
    expect(history).to_contain_text("Participant's details corrected")
    expect(history).to_contain_text("Name changed")
    expect(history).to_contain_text("E-mail address changed")
    expect(history).to_contain_text("Reason: Married; new e-mail")
    expect(history).not_to_contain_text("kim@example.org")
    assert axe_violations(page, axe) == []
    screenshot(page, "corrected-participant")

    # the activity: a typo in its title, and the wrong area
    visit(page, f"{stack.ingest}/staff/activities/a-fix")
    page.get_by_role("link", name="Correct this activity").click()
    expect(page.get_by_label("Title")).to_have_value("Reserch panel")
    expect(page.locator("main")).to_contain_text("Attendance recorded so far is at most 2 hours.")
    page.get_by_label("Title").fill("Research panel")
    page.get_by_label("Area of work").select_option(label="Campaigning")
    page.get_by_label("Reason for the correction").fill("Typo; it was a campaign")
    press(page, "Save the correction")
    stack.process()
    visit(page, f"{stack.ingest}/staff/activities/a-fix")
    expect(heading(page)).to_have_text("Research panel")
    history = page.get_by_role("region", name="History")
    expect(history).to_contain_text(re.compile(r"Title: was Reserch panel\s*→?\s*now Research panel"))
    expect(history).to_contain_text("Area of work: was Research")
    screenshot(page, "corrected-activity")

    # attendance recorded for the wrong person is withdrawn
    page.get_by_role("link", name="Withdraw Kim Smith-Jones\N{RIGHT SINGLE QUOTATION MARK}s attendance").click()
    page.get_by_label("Reason for withdrawing it").fill("Kim was not there")
    assert axe_violations(page, axe) == []
    press(page, "Withdraw the attendance")
    stack.process()
    visit(page, f"{stack.ingest}/staff/activities/a-fix")
    expect(page.locator("main")).to_contain_text("No attendance recorded yet.")
    expect(page.get_by_role("region", name="History")).to_contain_text("Attendance of Kim Smith-Jones withdrawn.")

    board.reload()
    dashboard_drawn(board)
    assert areas_row(board, "Campaigning").split()[-1] == "1", "the corrected activity counts where it belongs now"
    assert areas_row(board, "Research").split()[-1] == "0"
