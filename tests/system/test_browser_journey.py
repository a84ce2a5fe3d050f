"""In a real (headless) browser: staff record everything and leadership see it on the dashboard; typed
markup shows as text and never runs; signing out of both apps.
"""

from __future__ import annotations

import re

import pytest

from tests.system.browser import (
    Page,
    expect,
    screenshot,
    sign_in,
    sign_out,
)
from tests.system.staff_browser import (
    IMAGE,
    SCRIPT,
    TODAY,
    Stack,
    Tabs,
    figures,
    heading,
    held,
    named,
    notice,
    one_of_each,
    open_dashboard,
    press,
    registered,
    tick,
    visit,
)

pytestmark = pytest.mark.timeout(300)


# --- 1. The whole journey: staff record, leadership read ---------------------------------------


def test_staff_record_everything_in_the_browser_and_leadership_see_it_on_the_dashboard(
    stack: Stack, tabs: Tabs, dashboard_url: str
) -> None:
    accounts = stack.organisation("flow-org")
    # Four people already registered: with the one registered below, five attend (no small-count suppression).
    stack.seed("flow-org", *(registered(f"p-seed-{i}", f"Seeded Person {i}") for i in range(1, 5)))
    page = tabs.open()
    sign_in(page, stack.ingest, accounts["staff"])
    expect(heading(page)).to_have_text("Record involvement")
    expect(page.get_by_role("banner")).to_contain_text("flow-org")

    # Register a participant who agrees to hear back by e-mail.
    page.get_by_role("link", name="Register a participant").click()
    expect(heading(page)).to_have_text("Register a participant")
    page.get_by_label("Name", exact=True).fill("Priya Shah")
    page.get_by_label("Reference (optional)").fill("p-priya")
    page.get_by_role("radio", name="Carer").check()
    page.get_by_label("E-mail address").fill("priya@example.org")
    page.get_by_role("group", name="Do they agree").get_by_role("radio", name="Yes").check()
    page.get_by_role("radio", name="E-mail", exact=True).check()  # the vocabulary's label
    press(page, "Register participant")
    expect(notice(page, "Priya Shah is registered (reference p-priya).")).to_be_visible()
    screenshot(page, "flow-participant-registered")
    stack.process()  # the attendance and contribution forms list people from the read models

    # Record an activity held today; the confirmation leads straight on to its attendance.
    visit(page, f"{stack.ingest}/staff/")
    page.get_by_role("link", name="Record an activity held").click()
    page.get_by_label("Title").fill("Carers' panel on respite")
    page.get_by_label("Area of work").select_option(label="Research")
    page.get_by_role("radio", name=re.compile("^Co-production")).check()
    page.get_by_label("Date held").fill(TODAY.isoformat())
    page.get_by_label("Length in hours").fill("2")
    press(page, "Record activity")
    expect(notice(page, "Activity recorded: Carers' panel on respite")).to_be_visible()
    expect(heading(page)).to_have_text("Mark attendance")

    # Mark attendance: find Priya with the filter box, then tick the four others too.
    tick(page, "Find a person", "priya", "Priya Shah")
    expect(page.get_by_role("checkbox", name=re.compile("Seeded Person 1"))).to_be_hidden()
    expect(page.locator("#participant-filter-status")).to_have_text("1 of 5 shown")
    page.get_by_label("Find a person").fill("")
    for i in range(1, 5):
        page.get_by_role("checkbox", name=re.compile(f"Seeded Person {i}")).check()
    expect(page.get_by_label("Hours each")).to_have_value("2")  # the activity's length
    screenshot(page, "flow-attendance-ticked")
    press(page, "Record attendance")
    expect(notice(page, "Attendance recorded: 5 people at Carers' panel on respite.")).to_be_visible()
    stack.process()

    # Record what Priya said at the activity.
    visit(page, f"{stack.ingest}/staff/contributions/new")
    tick(page, "Find a person", "shah", "Priya Shah")
    page.get_by_label("Activity (optional)").select_option(label=f"{TODAY:%-d %b %Y}: Carers' panel on respite")
    page.get_by_label("Area of work").select_option(label="Research")
    expect(page.get_by_label("Date it was said")).to_have_value(TODAY.isoformat())
    page.get_by_label("What they said").fill("Let carers book respite online, in the evening.")
    press(page, "Record contribution")
    confirmation = notice(page, "Contribution recorded")
    expect(confirmation).to_be_visible()
    reference = re.search(r"reference (c-[0-9a-f]+)", confirmation.inner_text())
    assert reference, confirmation.inner_text()
    stack.process()

    # Record the change it led to: find the contribution, tick it, say how strongly it influenced the change.
    visit(page, f"{stack.ingest}/staff/changes/new")
    page.get_by_label("Title").fill("Online evening booking of respite")
    page.get_by_label("Area of work").select_option(label="Research")
    page.get_by_label("What the organisation did or will do").fill("Carers can now book respite online.")
    page.get_by_role("radio", name=re.compile("^Agreed")).check()
    page.get_by_label("Date decided").fill(TODAY.isoformat())
    strength = page.get_by_label("Strength of influence")
    expect(strength).to_be_hidden()  # shown only for a ticked contribution
    tick(page, "Find a contribution", "respite online", "book respite online")
    expect(page.locator("#contribution-filter-status")).to_have_text("1 of 1 shown")
    expect(strength).to_be_visible()
    strength.select_option(label="Major: it shaped the decision")
    screenshot(page, "flow-change-linked")
    press(page, "Record change")
    expect(notice(page, "Change recorded: Online evening booking of respite")).to_be_visible()
    expect(notice(page, "linked to 1 contribution.")).to_be_visible()
    stack.process()

    # The records are on the staff pages.
    visit(page, f"{stack.ingest}/staff/changes")
    page.get_by_role("link", name="Online evening booking of respite", exact=True).click()
    expect(page.locator("main")).to_contain_text("“Let carers book respite online, in the evening.” (major influence)")
    visit(page, f"{stack.ingest}/staff/activities")
    page.get_by_role("link", name="Carers' panel on respite", exact=True).click()
    expect(page.locator("main ul.attendees > li")).to_have_count(5)
    expect(page.locator("main")).to_contain_text("Priya Shah (attendee, 2 hours)")
    visit(page, f"{stack.ingest}/staff/")
    expect(page.locator("main")).to_contain_text("5 participants, 1 activity, 1 contribution and 1 change")

    # Leadership see it on the dashboard (a separate browser: the apps share a host, and so its cookies).
    board = tabs.open()
    open_dashboard(board, dashboard_url, accounts["leadership"])
    expect(board.get_by_role("banner")).to_contain_text("Flow Org")
    expect(board.locator("#participants-involved")).to_have_text("5")
    assert figures(board) == {
        "participants-involved": "5",
        "involvement-hours": "10.0",  # five people, two hours each
        "contributions": "1",
        "changes-influenced": "1",
        "influence-rate": "100%",  # the one contribution led to an agreed change
    }
    this_month = board.locator("#trend-table tbody tr").last
    expect(this_month.locator("td")).to_have_text(["1", "5", "10.0", "1"])
    screenshot(board, "flow-dashboard")


# --- 4. Typed markup is shown as text and never runs ----------------------------------------------


def test_markup_in_names_and_texts_shows_literally_and_never_runs(stack: Stack, tabs: Tabs) -> None:
    accounts = stack.organisation("hostile-org")
    stack.seed("hostile-org", held("a-hostile", "Hostile panel"))
    page = tabs.open()
    sign_in(page, stack.ingest, accounts["staff"])

    visit(page, f"{stack.ingest}/staff/participants/new")
    page.get_by_label("Name", exact=True).fill(SCRIPT)
    page.get_by_label("Reference (optional)").fill("p-script")
    page.get_by_role("radio", name="Other").check()
    page.get_by_role("group", name="Do they agree").get_by_role("radio", name="No").check()
    press(page, "Register participant")
    expect(notice(page, f"{SCRIPT} is registered (reference p-script).")).to_be_visible()
    stack.process()

    visit(page, f"{stack.ingest}/staff/participants")
    page.get_by_role("link", name=SCRIPT, exact=True).click()
    expect(heading(page)).to_have_text(SCRIPT)
    assert SCRIPT in page.title()

    visit(page, f"{stack.ingest}/staff/activities/a-hostile/attendance")
    tick(page, "Find a person", "script", SCRIPT)
    press(page, "Record attendance")
    expect(notice(page, "Attendance recorded: 1 person at Hostile panel.")).to_be_visible()

    visit(page, f"{stack.ingest}/staff/contributions/new")
    tick(page, "Find a person", "alert", SCRIPT)
    page.get_by_label("What they said").fill(IMAGE)
    press(page, "Record contribution")  # no area: the text comes back in the textarea
    expect(page.get_by_role("alert")).to_be_visible()
    expect(page.get_by_label("What they said")).to_have_value(IMAGE)
    page.get_by_label("Area of work").select_option(label="Support")
    press(page, "Record contribution")
    expect(notice(page, "Contribution recorded")).to_be_visible()
    stack.process()

    visit(page, f"{stack.ingest}/staff/changes/new")
    picked = page.get_by_role("checkbox", name=named(IMAGE))
    expect(picked).to_have_accessible_name(f"“{IMAGE}” {SCRIPT}, {TODAY:%-d %b %Y}, Support")
    page.get_by_label("Title").fill(f"Change {SCRIPT}")
    page.get_by_label("Area of work").select_option(label="Support")
    page.get_by_label("What the organisation did or will do").fill(IMAGE)
    page.get_by_role("radio", name=re.compile("^Proposed")).check()
    tick(page, "Find a contribution", "onerror", IMAGE)
    page.get_by_label("Strength of influence").select_option("major")
    press(page, "Record change")
    expect(notice(page, f"Change recorded: Change {SCRIPT}")).to_be_visible()
    stack.process()

    # Everywhere it shows up: lists, pickers, detail pages.
    visit(page, f"{stack.ingest}/staff/changes")
    page.get_by_role("link", name=f"Change {SCRIPT}", exact=True).click()
    expect(heading(page)).to_have_text(f"Change {SCRIPT}")
    expect(page.locator("main")).to_contain_text(f"“{IMAGE}” (major influence)")
    expect(page.locator("p.prewrap")).to_have_text(IMAGE)
    page.get_by_role("link", name="Update the status").click()
    expect(page.locator("main")).to_contain_text(f"Change {SCRIPT} is now proposed")
    visit(page, f"{stack.ingest}/staff/activities/a-hostile")
    expect(page.locator("main ul.attendees > li")).to_contain_text([f"{SCRIPT} (attendee, 1.5 hours)"])
    visit(page, f"{stack.ingest}/staff/activities/a-hostile/attendance")
    expect(page.get_by_role("checkbox", name=named(SCRIPT))).to_be_disabled()
    visit(page, f"{stack.ingest}/staff/contributions/new")
    expect(page.get_by_role("checkbox", name=named(SCRIPT))).to_be_visible()
    visit(page, f"{stack.ingest}/staff/participants/p-script/consent")
    expect(page.locator("main")).to_contain_text(f"For {SCRIPT} (reference p-script)")
    visit(page, f"{stack.ingest}/staff/changes/new")
    expect(page.locator("#contribution-list")).to_contain_text(f"“{IMAGE}” {SCRIPT}")
    screenshot(page, "hostile-change-form")

    expect(page.locator("main script:not([src]), main img")).to_have_count(0)  # forms.js is the only script
    assert tabs.dialogs == [], "a script ran"


# --- 6. Signing out -----------------------------------------------------------------------------


def test_signing_out_ends_the_session_and_staff_pages_ask_to_sign_in(stack: Stack, page: Page) -> None:
    accounts = stack.organisation("leaving-org")
    one_of_each(stack, "leaving-org")
    sign_in(page, stack.ingest, accounts["staff"])
    visit(page, f"{stack.ingest}/staff/participants")
    sign_out(page)
    expect(page).to_have_url(re.compile(r"/login\?signed_out=1$"))
    expect(notice(page, "You have signed out.")).to_be_visible()
    expect(page.get_by_role("button", name="Sign out")).to_have_count(0)

    for path in (
        "/staff/",
        "/staff/participants",
        "/staff/participants/new",
        "/staff/participants/p-sam",
        "/staff/activities/a-panel/attendance",
        "/staff/contributions/new",
        "/staff/changes/ch-agenda/status",
        "/staff/import/",
    ):
        page.goto(f"{stack.ingest}{path}")
        expect(page).to_have_url(re.compile(r"/login\?next=" + re.escape(path.replace("/", "%2F"))))
        expect(heading(page)).to_have_text("Sign in")


def test_signing_out_of_the_dashboard(stack: Stack, page: Page, dashboard_url: str) -> None:
    accounts = stack.organisation("leaving-board-org")
    open_dashboard(page, dashboard_url, accounts["admin"])
    sign_out(page)
    expect(page).to_have_url(re.compile(r"/login\?signed_out=1$"))
    page.goto(dashboard_url)
    expect(page).to_have_url(re.compile(r"/login\b"))
    expect(heading(page)).to_have_text("Sign in")
