"""In a real (headless) browser, signed in: every staff form end to end and on into the dashboard, error
summaries, typed markup, sign-out, and axe-core's WCAG 2.0-2.2 A/AA checks of every page.

One Chromium and one served stack for the module: ingest and the dashboard run in this process on free
ports, on an embedded log and one SQLite file. Each test works in an organisation of its own, so tests
share the servers but never each other's records. Processing is asynchronous in the product: tests run
the processor (`Stack.process`) wherever the next page needs the read models. Screenshots of every page,
empty and in its error state, go to test-artifacts/.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from datetime import UTC, date, datetime
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import Engine
from sqlmodel import Session, select

from impact.auth.accounts import Organisation
from impact.db import create_tables, make_engine
from impact.demo import demo_events
from impact.eventlog import EventLog, open_event_log
from impact.eventlog.recording import record
from impact.settings import Settings
from ingest import create_app as create_ingest
from processors.quality import QualityGate
from schemas.events import EVENT_ADAPTER
from schemas.readmodels import DeadLetter
from tests.conftest import add_organisation, process_all
from tests.system.browser import (
    Browser,
    Page,
    axe_violations,
    describe,
    expect,
    screenshot,
    serve,
    sign_in,
    sign_out,
    summary_links,
)

pytestmark = pytest.mark.timeout(300)

TODAY = datetime.now(UTC).date()  # what the forms call today
SCRIPT = "<script>alert(1)</script>"
IMAGE = "<img src=x onerror=alert(2)>"


# --- The served stack -------------------------------------------------------------------------


@dataclass
class Stack:
    """Ingest served on `ingest`, its log and database, and the processor that fills the read models."""

    settings: Settings
    engine: Engine
    event_log: EventLog
    gate: QualityGate
    ingest: str
    rejected: set[str] = field(default_factory=set)  # dead letters made on purpose (`reject`)

    def organisation(self, org_id: str) -> dict[str, str]:
        """A new organisation with one account per role: {"staff": e-mail, "leadership": ..., "admin": ...}."""
        return add_organisation(self.engine, org_id)

    def seed(self, org_id: str, *events: tuple[str, dict[str, Any]]) -> None:
        """Record (type, payload) events for `org_id` straight into the log, as the API would."""
        now = datetime.now(UTC)
        envelopes = [
            EVENT_ADAPTER.validate_python(
                {"type": type_, "org_id": org_id, "occurred_at": now.isoformat(), "payload": payload}
            )
            for type_, payload in events
        ]
        record(self.event_log, self.settings.topic, envelopes, recorded_by="test:seed", engine=self.engine)

    def process(self) -> None:
        """Run the processor until it has caught up; nothing the pages recorded may be rejected."""
        process_all(self.settings, self.engine, self.gate)
        with Session(self.engine) as session:
            rejected = [d for d in session.exec(select(DeadLetter)).all() if d.event_id not in self.rejected]
        assert rejected == [], f"events were rejected: {[(d.event_id, d.reason) for d in rejected]}"

    def reject(self, org_id: str, event_id: str, event: tuple[str, dict[str, Any]]) -> None:
        """Record an event the processor refuses, as `event_id`, and process it: a record that needs attention."""
        type_, payload = event
        raw = {"event_id": event_id, "type": type_, "org_id": org_id, "occurred_at": datetime.now(UTC).isoformat()}
        envelope = EVENT_ADAPTER.validate_python(raw | {"payload": payload})
        record(self.event_log, self.settings.topic, [envelope], recorded_by="test:seed", engine=self.engine)
        self.rejected.add(event_id)
        process_all(self.settings, self.engine, self.gate)
        with Session(self.engine) as session:
            assert session.get(DeadLetter, event_id) is not None, "the event was refused"


@pytest.fixture(scope="module")
def stack(tmp_path_factory: pytest.TempPathFactory, gate: QualityGate) -> Iterator[Stack]:
    root: Path = tmp_path_factory.mktemp("browser")
    settings = Settings.model_validate(
        {
            "env": "test",
            "data_dir": root / "var",
            "database_url": f"sqlite:///{root / 'impact.db'}",
            "secret_key": "t" * 40,
            "topic": "events",
            "dead_letter_topic": "dead-letters",
            "consumer_group": "browser-tests",
            "poll_timeout_ms": 200,
        }
    )
    engine = make_engine(settings.sqlalchemy_url)
    create_tables(engine)
    with open_event_log(settings) as event_log, serve(create_ingest(settings, event_log, engine=engine)) as url:
        yield Stack(settings, engine, event_log, gate, url)
    engine.dispose()


@pytest.fixture(scope="module")
def dashboard_url(stack: Stack) -> Iterator[str]:
    """The dashboard on the same database (imported here: the staff tests do not depend on it)."""
    from dashboard import create_app as create_dashboard

    with serve(create_dashboard(stack.settings, stack.engine).server) as url:
        yield url


class Tabs:
    """Fresh browser contexts (each with its own cookies), watched for script errors and dialogs."""

    def __init__(self, browser: Browser) -> None:
        self.browser = browser
        self.contexts: list[Any] = []
        self.errors: list[str] = []
        self.dialogs: list[str] = []

    def open(self, signed_in: dict[str, Any] | None = None) -> Page:
        """A page in a new context: signed out, or with the cookies of `signed_in` (a storage state)."""
        context = self.browser.new_context(
            viewport={"width": 1280, "height": 900}, locale="en-GB", timezone_id="UTC", storage_state=signed_in
        )
        self.contexts.append(context)
        page = context.new_page()
        page.on("pageerror", lambda error: self.errors.append(str(error)))

        def dismiss(dialog: Any) -> None:
            self.dialogs.append(dialog.message)
            dialog.dismiss()

        page.on("dialog", dismiss)
        return page

    def close(self) -> None:
        for context in self.contexts:
            context.close()


@pytest.fixture
def tabs(browser: Browser) -> Iterator[Tabs]:
    """Fails the test if a script threw or a dialog opened in any of its pages."""
    opened = Tabs(browser)
    yield opened
    opened.close()
    assert opened.errors == [], f"scripts threw in the page: {opened.errors}"
    assert opened.dialogs == [], f"dialogs opened (a script ran): {opened.dialogs}"


@pytest.fixture
def page(tabs: Tabs) -> Page:
    return tabs.open()


# --- Test data --------------------------------------------------------------------------------


def registered(participant_id: str, name: str, *, role: str = "carer") -> tuple[str, dict[str, Any]]:
    return "participant.registered", {"participant_id": participant_id, "display_name": name, "role": role}


def held(activity_id: str, title: str, hours: float = 1.5) -> tuple[str, dict[str, Any]]:
    payload = {
        "activity_id": activity_id,
        "title": title,
        "area": "research",
        "level": "consultation",
        "date": TODAY.isoformat(),
        "duration_hours": hours,
    }
    return "activity.held", payload


def attended(activity_id: str, participant_id: str, hours: float = 1.5) -> tuple[str, dict[str, Any]]:
    return "session.attended", {"activity_id": activity_id, "participant_id": participant_id, "hours": hours}


def said(contribution_id: str, participant_id: str, text: str) -> tuple[str, dict[str, Any]]:
    payload = {"contribution_id": contribution_id, "participant_ids": [participant_id], "area": "support", "text": text}
    return "contribution.made", payload


def changed(change_id: str, title: str, contribution_id: str) -> tuple[str, dict[str, Any]]:
    payload = {
        "change_id": change_id,
        "area": "support",
        "title": title,
        "description": "Agendas now go out a week before each meeting.",
        "links": [{"contribution_id": contribution_id, "strength": "moderate"}],
    }
    return "change.recorded", payload


def one_of_each(stack: Stack, org_id: str) -> None:
    """A participant (who has not agreed to be contacted), an activity they attended, what they said there,
    and a proposed change it influenced; processed."""
    stack.seed(
        org_id,
        registered("p-sam", "Sam Example"),
        held("a-panel", "Carers' panel"),
        attended("a-panel", "p-sam"),
        said("c-agenda", "p-sam", "Send the agenda a week earlier."),
        changed("ch-agenda", "Agendas go out a week ahead", "c-agenda"),
    )
    stack.process()


# --- Page helpers -----------------------------------------------------------------------------


def visit(page: Page, url: str, status: int = 200) -> None:
    response = page.goto(url)
    answered = response.status if response else "nothing"
    assert response is not None and (response.ok if status == 200 else answered == status), f"{url} answered {answered}"


def press(page: Page, button: str) -> None:
    """Press a form's button and wait for the page it leads to."""
    with page.expect_navigation():
        page.get_by_role("button", name=button, exact=True).click()


def notice(page: Page, text: str | re.Pattern[str]) -> Any:
    """The confirmation (role=status) the page announces; forms with filter boxes have other, empty ones."""
    return page.get_by_role("status").filter(has_text=text)


def heading(page: Page) -> Any:
    return page.get_by_role("heading", level=1)


def expect_problems(page: Page, *fields: str) -> None:
    """The error summary lists a problem for each of `fields` (ids), each linked to its field, which is marked
    invalid and has its own message. (Their order: `summary_order`.)"""
    summary = page.get_by_role("alert")
    expect(summary).to_contain_text("There is a problem")
    assert page.title().startswith("Error: "), page.title()
    assert sorted(summary_links(page)) == sorted(f"#{name}" for name in fields)
    for name in fields:
        expect(page.locator(f"[id='{name}']")).to_have_count(1)
        expect(page.locator(f"[id='{name}-error']")).to_be_visible()
        control = page.locator(f"[id='{name}']:is(input:not([type=radio], [type=checkbox]), select, textarea)")
        if control.count():
            expect(control).to_have_attribute("aria-invalid", "true")
            expect(control).to_have_attribute("aria-describedby", re.compile(rf"\b{name}-error\b"))


def summary_order(page: Page) -> tuple[list[str], list[str]]:
    """The fields the error summary links to, in its order and in the order the form shows them. (Compared
    at the end of a test, so that the test's other checks run whatever the order.)"""
    listed = [href.removeprefix("#") for href in summary_links(page)]
    every_id: list[str] = page.eval_on_selector_all("form [id]", "elements => elements.map(e => e.id)")
    return listed, [found for found in every_id if found in listed]


def assert_in_form_order(order: tuple[list[str], list[str]]) -> None:
    listed, in_form = order
    assert listed == in_form, f"the error summary lists {listed}: the form shows them in the order {in_form}"


def follow_problem(page: Page, field: str) -> None:
    """Keyboard users follow the summary's link to a field, and land on it."""
    page.get_by_role("alert").locator(f"a[href='#{field}']").focus()
    page.keyboard.press("Enter")
    expect(page.locator(f"[id='{field}']")).to_be_focused()


def named(text: str) -> re.Pattern[str]:
    """A name containing `text` (with "/" escaped too: Playwright passes the pattern on as a JS regex literal)."""
    return re.compile(re.escape(text).replace("/", "\\/"))


def tick(page: Page, filter_label: str, search: str, box: str) -> None:
    """Type into a "Find" box above a list of checkboxes, then tick the one labelled `box`."""
    page.get_by_label(filter_label).fill(search)
    expect(page.get_by_role("checkbox", name=named(box))).to_be_visible()
    page.get_by_role("checkbox", name=named(box)).check()


def open_dashboard(page: Page, dashboard_url: str, email: str) -> None:
    """Sign in to the dashboard and wait until its callback has filled the figures in."""
    page.goto(dashboard_url)
    expect(page).to_have_url(re.compile(r"/login\b"))  # signed out: the sign-in page first
    sign_in(page, dashboard_url, email)
    expect(page.locator("#contributions")).not_to_have_text("…")


def dashboard_drawn(page: Page) -> None:
    """Wait until the callback has drawn the page: its filters stated, and every chart drawn."""
    expect(page.locator("#scope")).to_be_visible()
    charts = page.locator(".chart")
    for index in range(charts.count()):
        expect(charts.nth(index).locator(".main-svg").first).to_be_visible()


def figures(page: Page) -> dict[str, str]:
    ids = ("participants-involved", "involvement-hours", "contributions", "changes-influenced", "influence-rate")
    return {figure_id: page.locator(f"#{figure_id}").inner_text() for figure_id in ids}


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
    page.get_by_role("radio", name="Email").check()
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
    expect(page.locator("main li")).to_have_count(5)
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
    expect(page.locator("main")).to_contain_text("Yes, by in person")


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
    expect(page.locator("main li")).to_have_text([f"{SCRIPT} (attendee, 1.5 hours)"])
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


# --- 7. Records that need attention: corrected and sent again ----------------------------------

A11Y_REJECTED, FIX_REJECTED = "0f6b1c3e-5a8d-4e2f-9b7c-1d2e3f4a5b6c", "6a1e2b3c-4d5e-4f60-8a9b-0c1d2e3f4a5b"


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


# --- 3. Accessibility (axe-core, WCAG 2.0/2.1/2.2 A and AA) of every page -----------------------


@dataclass(frozen=True)
class Screen:
    """A page to check: where it is, who signs in to see it, and how to bring up its errors."""

    name: str
    path: str
    role: str | None = "staff"  # None: nobody signed in
    show_errors: Callable[[Page], None] | None = None
    app: str = "ingest"
    status: int = 200


def wrong_password(page: Page) -> None:
    page.get_by_label("E-mail address").fill("nobody@a11y-org.example.org")
    page.get_by_label("Password").fill("wrong")
    press(page, "Sign in")


def just_press(button: str) -> Callable[[Page], None]:
    return lambda page: press(page, button)


def attendance_errors(page: Page) -> None:
    page.get_by_label("Hours each").fill("")
    press(page, "Record attendance")


def change_errors(page: Page) -> None:
    page.get_by_role("checkbox", name=re.compile("Send the agenda")).check()  # with no strength
    press(page, "Record change")


def status_errors(page: Page) -> None:
    page.get_by_role("radio", name=re.compile("^Declined")).check()
    press(page, "Update status")


def consent_errors(page: Page) -> None:
    page.get_by_role("group", name="Do they agree").get_by_role("radio", name="Yes").check()
    press(page, "Save consent")


def correction_errors(page: Page) -> None:
    page.get_by_label("Hours", exact=True).fill("lots")
    press(page, "Send the correction")


def import_errors(page: Page) -> None:
    """A file with bad rows: the summary and the list of every problem with its line."""
    bad = b"participant_id,display_name,role\np-new,Someone,astronaut\np-sam,,carer\n"
    page.get_by_label("The file").set_input_files({"name": "people.csv", "mimeType": "text/csv", "buffer": bad})
    press(page, "Import the file")
    expect(page.locator("#row-errors li").first).to_be_visible()


SCREENS = (
    Screen("login", "/login", role=None, show_errors=wrong_password),
    Screen("home", "/"),
    Screen("staff-start", "/staff/"),
    Screen("participants", "/staff/participants"),
    Screen("participant", "/staff/participants/p-sam"),
    Screen("participant-form", "/staff/participants/new", show_errors=just_press("Register participant")),
    Screen("consent-form", "/staff/participants/p-sam/consent", show_errors=consent_errors),
    Screen("activities", "/staff/activities"),
    Screen("activity", "/staff/activities/a-panel"),
    Screen("activity-form", "/staff/activities/new", show_errors=just_press("Record activity")),
    Screen("attendance-form", "/staff/activities/a-panel/attendance", show_errors=attendance_errors),
    Screen("contribution-form", "/staff/contributions/new", show_errors=just_press("Record contribution")),
    Screen("changes", "/staff/changes"),
    Screen("change", "/staff/changes/ch-agenda"),
    Screen("change-form", "/staff/changes/new", show_errors=change_errors),
    Screen("status-form", "/staff/changes/ch-agenda/status", show_errors=status_errors),
    Screen("import", "/staff/import/", show_errors=import_errors),
    Screen("problems", "/staff/problems/"),
    Screen("problem-correct", f"/staff/problems/{A11Y_REJECTED}", show_errors=correction_errors),
    Screen("admin", "/admin/", role="admin"),
    Screen("admin-account-form", "/admin/accounts/new", role="admin", show_errors=just_press("Create account")),
    Screen("admin-token-form", "/admin/tokens/new", role="admin", show_errors=just_press("Issue token")),
    Screen(
        "admin-organisation-form",
        "/admin/organisations/new",
        role="admin",
        show_errors=just_press("Create organisation and its admin"),
    ),
    Screen("password-form", "/account/password", show_errors=just_press("Save my password")),
    Screen("not-found", "/staff/participants/nobody-here", status=404),
    Screen("forbidden", "/admin/", status=403),  # staff may not manage accounts
    Screen("dashboard-login", "/login", role=None, show_errors=wrong_password, app="dashboard"),
    Screen("dashboard", "/", role="leadership", app="dashboard"),
    *(
        Screen(f"dashboard-{slug}", f"/{slug}", role="leadership", app="dashboard")
        for slug in ("influence", "areas", "people", "feedback", "quality", "report")
    ),
)
CASES = [
    pytest.param(screen, state, id=f"{screen.name}-{state}")
    for screen in SCREENS
    for state in (("empty", "errors") if screen.show_errors else ("empty",))
]


class SignedIn:
    """a11y-org, with one record of each kind (so every list and detail page shows something), and each
    role's signed-in cookies on each app, made once: the pages under test start signed in."""

    def __init__(self, request: pytest.FixtureRequest, stack: Stack, browser: Browser) -> None:
        self.request, self.stack, self.browser = request, stack, browser
        self.accounts = stack.organisation("a11y-org")
        with Session(stack.engine) as session:  # an operator, so its admin may open the new-organisation page
            organisation = session.get(Organisation, "a11y-org")
            assert organisation is not None
            organisation.operator = True
            session.add(organisation)
            session.commit()
        one_of_each(stack, "a11y-org")
        # a year of the demo's first charity, as a11y-org's: every dashboard chart and table has something to show
        demo = [
            event.model_copy(update={"org_id": "a11y-org"})
            for event in demo_events(today=date.today())
            if event.org_id == "mind-leeds"
        ]
        record(stack.event_log, stack.settings.topic, demo, recorded_by="test:demo", engine=stack.engine)
        stack.process()
        stack.reject("a11y-org", A11Y_REJECTED, attended("a-panel", "p-sam", hours=3))  # for the problem pages
        self.states: dict[tuple[str, str], dict[str, Any]] = {}

    def base(self, app: str) -> str:
        return self.stack.ingest if app == "ingest" else str(self.request.getfixturevalue("dashboard_url"))

    def state(self, app: str, role: str) -> dict[str, Any]:
        if (app, role) not in self.states:
            context = self.browser.new_context()
            try:
                sign_in(context.new_page(), self.base(app), self.accounts[role])
                self.states[app, role] = context.storage_state()
            finally:
                context.close()
        return self.states[app, role]

    def open(self, tabs: Tabs, screen: Screen) -> Page:
        """A page showing `screen`, signed in as its role."""
        page = tabs.open(self.state(screen.app, screen.role) if screen.role else None)
        visit(page, f"{self.base(screen.app)}{screen.path}", screen.status)
        return page


@pytest.fixture(scope="module")
def a11y(request: pytest.FixtureRequest, stack: Stack, browser: Browser) -> SignedIn:
    return SignedIn(request, stack, browser)


@pytest.mark.parametrize(("screen", "state"), CASES)
def test_every_page_has_no_wcag_violations(a11y: SignedIn, tabs: Tabs, axe: str, screen: Screen, state: str) -> None:
    page = a11y.open(tabs, screen)
    if screen.app == "dashboard" and screen.role is not None and screen.path != "/report":
        dashboard_drawn(page)
    if state == "errors":
        assert screen.show_errors is not None
        screen.show_errors(page)
        expect(page.get_by_role("alert")).to_contain_text("There is a problem")
    screenshot(page, f"{screen.name}-{state}")
    violations = axe_violations(page, axe)
    assert violations == [], describe(violations)


# --- The error summary takes focus --------------------------------------------------------------

FORMS = [pytest.param(screen, id=screen.name) for screen in SCREENS if screen.show_errors]


@pytest.mark.parametrize("screen", FORMS)
def test_the_error_summary_takes_focus(a11y: SignedIn, tabs: Tabs, screen: Screen) -> None:
    """Screen-reader and keyboard users land on the problems first (as _field.html's error_summary says)."""
    page = a11y.open(tabs, screen)
    assert screen.show_errors is not None
    screen.show_errors(page)
    expect(page.get_by_role("alert")).to_be_focused(timeout=2000)  # focused as the page loads, or never
