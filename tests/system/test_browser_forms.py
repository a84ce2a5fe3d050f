"""In a real (headless) browser, every staff form: a linked error summary, values kept, a confirmation; a
declined change needs a reason; a record that needs attention is corrected and sent again.
"""

from __future__ import annotations

import re

import pytest

from tests.system.browser import (
    Page,
    expect,
    sign_in,
    summary_links,
)
from tests.system.staff_browser import (
    FIX_REJECTED,
    TODAY,
    Stack,
    assert_in_form_order,
    attended,
    expect_problems,
    follow_problem,
    heading,
    notice,
    one_of_each,
    press,
    registered,
    summary_order,
    tick,
    visit,
)

pytestmark = pytest.mark.timeout(300)


# --- 2. Every form: a linked error summary, values kept, a confirmation -------------------------


def test_login_form_errors(stack: Stack, page: Page) -> None:
    accounts = stack.organisation("login-org")
    visit(page, f"{stack.ingest}/login")
    page.get_by_label("E-mail address").fill(accounts["staff"])
    page.get_by_label("Password").fill("not the password")
    press(page, "Sign in")
    summary = page.get_by_role("alert")
    expect(summary).to_contain_text("There is a problem")
    assert summary_links(page) == ["#email"]
    expect(page.get_by_label("E-mail address")).to_have_value(accounts["staff"])
    expect(page.get_by_label("E-mail address")).to_have_attribute("aria-invalid", "true")
    expect(page.get_by_label("Password")).to_have_value("")  # never sent back
    assert page.title().startswith("Error: ")
    follow_problem(page, "email")

    page.get_by_label("Password").fill("correct horse battery staple")
    press(page, "Sign in")
    expect(heading(page)).to_have_text("Record involvement")


def test_participant_form_errors_values_and_confirmation(stack: Stack, page: Page) -> None:
    accounts = stack.organisation("people-org")
    sign_in(page, stack.ingest, accounts["staff"])
    visit(page, f"{stack.ingest}/staff/participants/new")
    page.get_by_label("Name", exact=True).fill("Jo Bloggs")
    page.get_by_label("Phone number").fill("0113 496 0000")
    page.get_by_role("group", name="Do they agree").get_by_role("radio", name="Yes").check()
    page.get_by_label("Age").select_option(label="25 to 34")
    press(page, "Register participant")  # no role; agrees to be contacted, but not how

    expect_problems(page, "role", "preferred_channel")
    order = summary_order(page)
    expect(page.get_by_label("Name", exact=True)).to_have_value("Jo Bloggs")
    expect(page.get_by_label("Phone number")).to_have_value("0113 496 0000")
    expect(page.get_by_role("group", name="Do they agree").get_by_role("radio", name="Yes")).to_be_checked()
    expect(page.get_by_label("Age")).to_have_value("25_34")
    follow_problem(page, "role")

    page.get_by_role("radio", name="Service user").check()
    page.get_by_role("radio", name="Phone").check()
    press(page, "Register participant")
    expect(notice(page, re.compile(r"Jo Bloggs is registered \(reference p-[0-9a-f]+\)\."))).to_be_visible()
    expect(page.get_by_label("Name", exact=True)).to_have_value("")  # ready for the next person
    assert not page.title().startswith("Error")
    assert_in_form_order(order)


def test_activity_form_errors_values_and_confirmation(stack: Stack, page: Page) -> None:
    accounts = stack.organisation("activity-org")
    sign_in(page, stack.ingest, accounts["staff"])
    visit(page, f"{stack.ingest}/staff/activities/new")
    page.get_by_label("Title").fill("Focus group")
    page.get_by_label("Area of work").select_option(label="Training")
    page.get_by_label("Length in hours").fill("twenty")
    press(page, "Record activity")  # no level, no date, hours not a number

    expect_problems(page, "level", "date", "duration_hours")
    order = summary_order(page)
    expect(page.get_by_label("Title")).to_have_value("Focus group")
    expect(page.get_by_label("Area of work")).to_have_value("training")
    expect(page.get_by_label("Length in hours")).to_have_value("twenty")
    follow_problem(page, "level")

    page.get_by_role("radio", name=re.compile("^User-led")).check()
    page.get_by_label("Date held").fill(TODAY.isoformat())
    page.get_by_label("Length in hours").fill("1.5")
    press(page, "Record activity")
    expect(notice(page, re.compile(r"Activity recorded: Focus group \(reference a-[0-9a-f]+\)"))).to_be_visible()
    assert_in_form_order(order)


def test_attendance_form_errors_values_and_confirmation(stack: Stack, page: Page) -> None:
    accounts = stack.organisation("attend-org")
    one_of_each(stack, "attend-org")
    stack.seed("attend-org", registered("p-kim", "Kim Other"))
    stack.process()
    sign_in(page, stack.ingest, accounts["staff"])
    visit(page, f"{stack.ingest}/staff/activities/a-panel/attendance")
    expect(page.get_by_role("checkbox", name=re.compile("Sam Example"))).to_be_disabled()  # already recorded
    page.get_by_label("Hours each").fill("")
    page.get_by_label("Their role").select_option(label="Speaker")
    press(page, "Record attendance")  # nobody ticked, no hours

    expect_problems(page, "participants", "hours")
    order = summary_order(page)
    expect(page.get_by_label("Their role")).to_have_value("speaker")
    follow_problem(page, "participants")

    tick(page, "Find a person", "kim", "Kim Other")
    press(page, "Record attendance")
    expect_problems(page, "hours")
    expect(page.get_by_role("checkbox", name=re.compile("Kim Other"))).to_be_checked()  # kept

    page.get_by_label("Hours each").fill("1.5")
    press(page, "Record attendance")
    expect(notice(page, "Attendance recorded: 1 person at Carers' panel.")).to_be_visible()
    expect(heading(page)).to_have_text("Carers' panel")
    assert_in_form_order(order)


def test_contribution_form_errors_values_and_confirmation(stack: Stack, page: Page) -> None:
    accounts = stack.organisation("said-org")
    one_of_each(stack, "said-org")
    sign_in(page, stack.ingest, accounts["staff"])
    visit(page, f"{stack.ingest}/staff/contributions/new")
    page.get_by_label("Activity (optional)").select_option("a-panel")
    page.get_by_label("What they said").fill("More breaks, please.")
    page.get_by_label("Date it was said").fill("")
    press(page, "Record contribution")  # nobody, no area, no date

    expect_problems(page, "participants", "area", "made_on")
    order = summary_order(page)
    expect(page.get_by_label("Activity (optional)")).to_have_value("a-panel")
    expect(page.get_by_label("What they said")).to_have_value("More breaks, please.")
    follow_problem(page, "participants")

    tick(page, "Find a person", "sam", "Sam Example")
    page.get_by_label("Area of work").select_option(label="Support")
    page.get_by_label("Date it was said").fill(TODAY.isoformat())
    press(page, "Record contribution")
    expect(notice(page, re.compile(r"Contribution recorded \(reference c-[0-9a-f]+\)"))).to_be_visible()
    expect(page.get_by_label("What they said")).to_have_value("")
    assert_in_form_order(order)


def test_change_form_errors_values_and_confirmation(stack: Stack, page: Page) -> None:
    accounts = stack.organisation("change-org")
    one_of_each(stack, "change-org")
    sign_in(page, stack.ingest, accounts["staff"])
    visit(page, f"{stack.ingest}/staff/changes/new")
    page.get_by_label("Title").fill("Longer breaks")
    page.get_by_role("radio", name=re.compile("^Implemented")).check()
    tick(page, "Find a contribution", "agenda", "Send the agenda")
    press(page, "Record change")  # no area, no description, no date decided, no strength

    expect_problems(page, "area", "description", "decided_on", "links")
    order = summary_order(page)
    expect(page.get_by_label("Title")).to_have_value("Longer breaks")
    expect(page.get_by_role("radio", name=re.compile("^Implemented"))).to_be_checked()
    expect(page.get_by_role("checkbox", name=re.compile("Send the agenda"))).to_be_checked()
    expect(page.get_by_label("Strength of influence")).to_be_visible()
    follow_problem(page, "area")

    page.get_by_label("Area of work").select_option(label="Support")
    page.get_by_label("What the organisation did or will do").fill("Breaks are now 20 minutes.")
    page.get_by_label("Date decided").fill(TODAY.isoformat())
    page.get_by_label("Strength of influence").select_option("minor")
    press(page, "Record change")
    expect(notice(page, re.compile(r"Change recorded: Longer breaks \(reference ch-[0-9a-f]+\)"))).to_be_visible()
    expect(heading(page)).to_have_text("Changes")
    assert_in_form_order(order)


def test_consent_form_errors_values_and_confirmation(stack: Stack, page: Page) -> None:
    accounts = stack.organisation("consent-org")
    one_of_each(stack, "consent-org")
    sign_in(page, stack.ingest, accounts["staff"])
    visit(page, f"{stack.ingest}/staff/participants")
    page.get_by_role("link", name="Sam Example").click()
    page.get_by_role("link", name="Update consent to be contacted").click()
    expect(page.get_by_role("group", name="Do they agree").get_by_role("radio", name="No")).to_be_checked()
    page.get_by_role("group", name="Do they agree").get_by_role("radio", name="Yes").check()
    press(page, "Save consent")  # yes, but not how

    expect_problems(page, "channel")
    expect(page.get_by_role("group", name="Do they agree").get_by_role("radio", name="Yes")).to_be_checked()
    follow_problem(page, "channel")

    page.get_by_role("radio", name="In person").check()
    press(page, "Save consent")
    expect(notice(page, "Consent updated: Sam Example agrees to be contacted.")).to_be_visible()
    expect(heading(page)).to_have_text("Sam Example")
    stack.process()
    page.reload()
    expect(page.locator("main")).to_contain_text("Yes, in person")


# --- 5. A declined change needs a reason ---------------------------------------------------------


def test_a_change_is_declined_only_with_a_reason(stack: Stack, page: Page) -> None:
    accounts = stack.organisation("status-org")
    one_of_each(stack, "status-org")
    sign_in(page, stack.ingest, accounts["staff"])
    visit(page, f"{stack.ingest}/staff/changes")
    page.get_by_role("link", name="Update status of Agendas go out a week ahead").click()
    expect(heading(page)).to_have_text("Update the status of a change")
    expect(page.get_by_role("radio", name=re.compile("^Proposed"))).to_have_count(0)  # it is proposed now
    page.get_by_role("radio", name=re.compile("^Declined")).check()
    press(page, "Update status")

    expect_problems(page, "note")
    expect(page.locator("#note-error")).to_contain_text("Say why the change was declined")
    expect(page.get_by_role("radio", name=re.compile("^Declined"))).to_be_checked()
    follow_problem(page, "note")

    page.get_by_label("Note (needed if declined)").fill("The room is booked by another group until May.")
    press(page, "Update status")
    expect(notice(page, "The status of “Agendas go out a week ahead” is now declined.")).to_be_visible()
    stack.process()
    page.reload()
    expect(page.locator("dl.summary")).to_contain_text("Declined")
    expect(page.locator("dl.summary")).to_contain_text("The room is booked by another group until May.")


# --- 7. Records that need attention: corrected and sent again ----------------------------------


def test_a_record_that_needs_attention_is_corrected_and_sent_again(stack: Stack, page: Page) -> None:
    accounts = stack.organisation("fix-org")
    one_of_each(stack, "fix-org")
    stack.seed("fix-org", registered("p-lee", "Lee Example"))
    stack.process()
    stack.reject("fix-org", FIX_REJECTED, attended("a-panel", "p-lee", hours=3))  # longer than the panel
    sign_in(page, stack.ingest, accounts["staff"])
    page.get_by_role("navigation").get_by_role("link", name=re.compile("^Needs attention")).click()
    expect(heading(page)).to_have_text("Records that need attention")
    page.get_by_role("link", name=re.compile("^Correct it")).click()
    expect(heading(page)).to_have_text("Correct this attendance")
    hours = page.get_by_label("Hours", exact=True)
    expect(hours).to_have_value("3")
    hours.fill("lots")
    press(page, "Send the correction")
    expect_problems(page, "hours")
    expect(hours).to_have_value("lots")
    hours.fill("1")
    press(page, "Send the correction")
    expect(notice(page, "Correction sent")).to_be_focused()
    stack.process()
    visit(page, f"{stack.ingest}/staff/problems/")
    expect(page.locator("main")).to_contain_text("Nothing needs attention")
    visit(page, f"{stack.ingest}/staff/activities/a-panel")
    expect(page.locator("main")).to_contain_text("Lee Example (attendee, 1 hours)")
