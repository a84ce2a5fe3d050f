"""The staff pages in a real browser: the served stack, browser tabs, test data, page helpers, and the
screens the accessibility checks visit. The fixtures built on these are in tests/system/conftest.py.

One Chromium and one served stack per test module: ingest and the dashboard run in the test process on free
ports, on an embedded log and one SQLite file. Each test works in an organisation of its own, so tests
share the servers but never each other's records. Processing is asynchronous in the product: tests run
the processor (`Stack.process`) wherever the next page needs the read models. Screenshots of every page,
empty and in its error state, go to test-artifacts/.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, date, datetime
from typing import Any

import pytest
from sqlalchemy import Engine
from sqlmodel import Session, select

from impact.auth.accounts import Organisation
from impact.demo import demo_events
from impact.eventlog import EventLog
from impact.eventlog.recording import record
from impact.settings import Settings
from processors.quality import QualityGate
from schemas.events import EVENT_ADAPTER
from schemas.readmodels import DeadLetter
from tests.factories import add_organisation, process_all
from tests.system.browser import (
    Browser,
    Page,
    axe_violations,
    describe,
    expect,
    screenshot,
    sign_in,
    summary_links,
)

TODAY = datetime.now(UTC).date()  # what the forms call today
SCRIPT = "<script>alert(1)</script>"
IMAGE = "<img src=x onerror=alert(2)>"
A11Y_REJECTED, FIX_REJECTED = "0f6b1c3e-5a8d-4e2f-9b7c-1d2e3f4a5b6c", "6a1e2b3c-4d5e-4f60-8a9b-0c1d2e3f4a5b"

# --- The served stack -------------------------------------------------------------------------


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
    """Wait until the callback has drawn the page: its filters stated, and every chart drawn.

    Plotly draws in the browser after the callback answers; on a loaded two-core CI machine the first draw
    of a page took over 5 s (Playwright's default), so charts get 30 s."""
    expect(page.locator("#scope")).to_be_visible(timeout=30_000)
    charts = page.locator(".chart")
    for index in range(charts.count()):
        expect(charts.nth(index).locator(".main-svg").first).to_be_visible(timeout=30_000)


def figures(page: Page) -> dict[str, str]:
    ids = ("participants-involved", "involvement-hours", "contributions", "changes-influenced", "influence-rate")
    return {figure_id: page.locator(f"#{figure_id}").inner_text() for figure_id in ids}


# --- Accessibility: the screens to check, and each role signed in once ---------------------------


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


def details_errors(page: Page) -> None:
    page.get_by_label("Name", exact=True).fill("")
    press(page, "Save the correction")


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
    Screen("participant-details-form", "/staff/participants/p-sam/details", show_errors=details_errors),
    Screen(
        "participant-erase",
        "/staff/participants/p-sam/erase",
        role="admin",
        show_errors=just_press("Erase Sam Example"),
    ),
    Screen("activities", "/staff/activities"),
    Screen("activity", "/staff/activities/a-panel"),
    Screen("activity-form", "/staff/activities/new", show_errors=just_press("Record activity")),
    Screen("attendance-form", "/staff/activities/a-panel/attendance", show_errors=attendance_errors),
    Screen("activity-correct-form", "/staff/activities/a-panel/correct", show_errors=just_press("Save the correction")),
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


FORMS = [pytest.param(screen, id=screen.name) for screen in SCREENS if screen.show_errors]


def assert_no_wcag_violations(a11y: SignedIn, tabs: Tabs, axe: str, screen: Screen, state: str) -> None:
    """Open the screen (with its errors shown, for state "errors"), keep a screenshot, and find no axe violation."""
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
