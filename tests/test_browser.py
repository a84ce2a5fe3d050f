"""In a real (headless) browser: the staff form, the dashboard, and axe-core's WCAG 2.2 AA checks of both.

The apps run in this process on free ports (embedded log + SQLite); Chromium is Debian's, and it can
reach nothing but this machine. Screenshots go to test-artifacts/ for people to look at.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Iterator
from datetime import UTC, date, datetime, time
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import Engine
from sqlmodel import Session, select

from dashboard import create_app as create_dashboard
from dashboard.formatting import add_months, default_period, format_month, months_between
from impact.db import create_tables, make_engine
from impact.eventlog import open_event_log
from impact.settings import Settings
from ingest import create_app as create_ingest
from processors.quality import QualityGate
from schemas.events import StoredEvent
from schemas.readmodels import DeadLetter
from tests.browser import (
    CHROMIUM,
    Browser,
    Page,
    axe_script,
    axe_violations,
    describe,
    expect,
    launch,
    screenshot,
    serve,
)
from tests.conftest import process_all, unavailable

pytestmark = pytest.mark.timeout(180)

ORG, OTHER = "north-carers", "south-voices"
SCRIPT = "<script>alert(1)</script>"
TODAY = date.today()  # the dashboard's default period ends on the server's (local) today
EARLY = add_months(TODAY, -2).replace(day=10)  # two past months, both inside the dashboard's default period
LATE = add_months(TODAY, -1).replace(day=10)


# --- Fixtures ---------------------------------------------------------------------------------


@pytest.fixture(scope="module")
def browser() -> Iterator[Browser]:
    if not CHROMIUM.exists():
        unavailable(f"{CHROMIUM} is not installed (apt-get install chromium)")
    with launch() as browser:
        yield browser


@pytest.fixture(scope="module")
def axe() -> str:
    try:
        return axe_script()
    except FileNotFoundError as exc:
        unavailable(f"axe-core is not available: {exc}")
        raise  # unreachable: unavailable() always raises


@pytest.fixture
def page(browser: Browser) -> Iterator[Page]:
    """A fresh page (own cookies); fails the test if a script on it threw."""
    context = browser.new_context(viewport={"width": 1280, "height": 900}, locale="en-GB", timezone_id="UTC")
    page = context.new_page()
    errors: list[str] = []
    page.on("pageerror", lambda error: errors.append(str(error)))
    yield page
    context.close()
    assert errors == [], f"scripts threw in the page: {errors}"


@pytest.fixture
def dialogs(page: Page) -> list[str]:
    """Messages of every alert/confirm/prompt the page opens (each dismissed)."""
    opened: list[str] = []

    def dismiss(dialog: Any) -> None:
        opened.append(dialog.message)
        dialog.dismiss()

    page.on("dialog", dismiss)
    return opened


@pytest.fixture
def settings(log_settings: Callable[[str], Settings], tmp_path: Path) -> Settings:
    """The embedded default: an embedded log and a SQLite read-model file, both fresh."""
    return log_settings("embedded").model_copy(update={"database_url": f"sqlite:///{tmp_path / 'readmodels.db'}"})


@pytest.fixture
def ingest_url(settings: Settings) -> Iterator[str]:
    with open_event_log(settings) as event_log, serve(create_ingest(settings, event_log)) as url:
        yield url


@pytest.fixture
def dashboard_url(settings: Settings, gate: QualityGate) -> Iterator[str]:
    """The dashboard, after the involvement below went through the ingest API and the processor."""
    engine = make_engine(settings.sqlalchemy_url)
    create_tables(engine)
    with open_event_log(settings) as event_log:
        client = create_ingest(settings, event_log, test_config={"TESTING": True}).test_client()
        response = client.post("/api/v1/events", json=involvement())
        assert response.status_code == 202, response.get_json()
    process(settings, engine, gate)
    with serve(create_dashboard(settings, engine).server) as url:
        yield url
    engine.dispose()


# --- Test data --------------------------------------------------------------------------------


def event(type_: str, payload: dict[str, Any], day: date, org: str = ORG) -> dict[str, Any]:
    occurred_at = datetime.combine(day, time(12), tzinfo=UTC).isoformat()
    return {"type": type_, "org_id": org, "occurred_at": occurred_at, "payload": payload}


def activity(activity_id: str, day: date, hours: float, people: list[str], org: str = ORG) -> list[dict[str, Any]]:
    """An activity on `day` and each person's attendance of `hours`."""
    held = {
        "activity_id": activity_id,
        "title": "Carers' panel",
        "area": "research",
        "level": "co_production",
        "date": day.isoformat(),
        "duration_hours": hours,
    }
    return [
        event("activity.held", held, day, org),
        *(
            event("session.attended", {"activity_id": activity_id, "participant_id": who, "hours": hours}, day, org)
            for who in people
        ),
    ]


def contribution(contribution_id: str, people: list[str], day: date, org: str = ORG) -> dict[str, Any]:
    payload = {"contribution_id": contribution_id, "participant_ids": people, "area": "research", "text": "An idea."}
    return event("contribution.made", payload, day, org)


def change(change_id: str, contribution_id: str, day: date) -> dict[str, Any]:
    payload = {
        "change_id": change_id,
        "area": "research",
        "title": f"Change {change_id}",
        "description": "What we did.",
        "links": [{"contribution_id": contribution_id, "strength": "major"}],
    }
    return event("change.recorded", payload, day)


def register(people: list[str], day: date, org: str = ORG) -> list[dict[str, Any]]:
    return [
        event("participant.registered", {"participant_id": who, "display_name": who, "role": "carer"}, day, org)
        for who in people
    ]


def involvement() -> list[dict[str, Any]]:
    """Two months of one organisation and one month of a smaller one.

    north-carers, EARLY: n1-n5 attend 2 h each (10 h); c1 by n1, n2 -> ch1, implemented.
    north-carers, LATE: n2-n6 attend 1.5 h each (7.5 h); c2 by n6 -> ch2, only proposed; c3 by n3.
    south-voices, LATE: s1-s4 attend 1 h each; d1 by s1.
    """
    north = [f"n{i}" for i in range(1, 7)]
    south = [f"s{i}" for i in range(1, 5)]
    return [
        *register(north, EARLY),
        *activity("a-early", EARLY, 2, north[:5]),
        contribution("c1", ["n1", "n2"], EARLY),
        *activity("a-late", LATE, 1.5, north[1:]),
        contribution("c2", ["n6"], LATE),
        contribution("c3", ["n3"], LATE),
        change("ch1", "c1", LATE),
        event("change.status_changed", {"change_id": "ch1", "status": "implemented"}, LATE),
        change("ch2", "c2", LATE),
        *register(south, LATE, OTHER),
        *activity("b-late", LATE, 1, south, OTHER),
        contribution("d1", ["s1"], LATE, OTHER),
    ]


def process(settings: Settings, engine: Engine, gate: QualityGate) -> None:
    process_all(settings, engine, gate)
    with Session(engine) as session:
        rejected = session.exec(select(DeadLetter)).all()
    assert rejected == [], f"the test data must be valid: {[(d.event_id, d.reason) for d in rejected]}"


def logged_events(settings: Settings) -> list[StoredEvent]:
    with open_event_log(settings) as event_log, event_log.consumer(settings.topic, "test-reader") as consumer:
        return [StoredEvent.from_bytes(message.value) for message in consumer.poll(100, 500)]


# --- Page helpers -----------------------------------------------------------------------------


def open_form(page: Page, ingest_url: str) -> None:
    page.goto(f"{ingest_url}/staff/contributions/new")
    expect(page.get_by_role("heading", level=1)).to_have_text("Record a contribution")


def submit(page: Page) -> None:
    page.get_by_role("button", name="Record contribution").click()
    page.wait_for_load_state()


def show_errors(page: Page) -> None:
    """Submit the form with participant IDs and text left empty."""
    page.get_by_label("Organisation").fill(ORG)
    page.get_by_label("Activity area").select_option(label="Support")
    page.get_by_label("Date it was said").fill(EARLY.isoformat())
    submit(page)
    expect(page.get_by_role("alert")).to_contain_text("There is a problem")


def open_dashboard(page: Page, dashboard_url: str) -> None:
    page.goto(dashboard_url)
    expect(page.locator("#contributions")).not_to_have_text("…")  # the callback has filled the figures in


def expect_figures(page: Page, **figures: str) -> None:
    for figure_id, shown in figures.items():
        expect(page.locator(f"#{figure_id.replace('_', '-')}")).to_have_text(shown)


def choose_period_from(page: Page, start: date) -> None:
    """Type a new start date (the picker shows DD/MM/YYYY), as a keyboard user would."""
    field = page.get_by_role("textbox", name="From date")
    field.fill(start.strftime("%d/%m/%Y"))
    field.press("Enter")
    page.keyboard.press("Escape")  # close the calendar the picker opens


def trend_months(page: Page) -> list[str]:
    return page.locator("#trend-table tbody th").all_inner_texts()


def trend_row(page: Page, month: date) -> list[str]:
    row = page.locator("#trend-table tbody tr").filter(has=page.get_by_role("rowheader", name=format_month(month)))
    return row.locator("td").all_inner_texts()


# --- The staff form ---------------------------------------------------------------------------


def test_staff_form_records_a_contribution(page: Page, dialogs: list[str], ingest_url: str, settings: Settings) -> None:
    open_form(page, ingest_url)
    screenshot(page, "form-empty")

    page.get_by_label("Organisation").click()
    page.keyboard.type(ORG)
    page.keyboard.press("Tab")
    expect(page.get_by_label("Participant IDs")).to_be_focused()
    page.keyboard.type("p1, p2")
    page.keyboard.press("Tab")
    expect(page.get_by_label("Activity ID (optional)")).to_be_focused()
    page.keyboard.press("Tab")
    expect(page.get_by_label("Activity area")).to_be_focused()
    page.get_by_label("Activity area").select_option(label="Research")
    page.get_by_label("Date it was said").fill(EARLY.isoformat())
    said = f"Send the agenda earlier {SCRIPT}"
    page.get_by_label("What they said").fill(said)
    submit(page)

    confirmation = page.get_by_role("status")
    expect(confirmation).to_contain_text("Contribution recorded")
    reference = re.search(r"reference (c-[0-9a-f]{12})", confirmation.inner_text())
    assert reference, confirmation.inner_text()
    expect(page.get_by_label("Organisation")).to_have_value(ORG)  # ready for the next one
    assert dialogs == [], "a script ran"
    screenshot(page, "form-confirmation")

    [recorded] = logged_events(settings)
    assert recorded.payload["contribution_id"] == reference.group(1)
    assert recorded.payload["participant_ids"] == ["p1", "p2"]
    assert (recorded.payload["area"], recorded.payload["text"]) == ("research", said)  # stored exactly as typed
    assert recorded.occurred_at.date() == EARLY


def test_staff_form_errors_are_summarised_linked_and_keep_the_values(page: Page, ingest_url: str) -> None:
    open_form(page, ingest_url)
    show_errors(page)
    screenshot(page, "form-errors")

    assert page.title().startswith("Error: ")
    summary = page.get_by_role("alert")
    links = summary.get_by_role("link")
    expect(links).to_have_count(2)
    assert [link.get_attribute("href") for link in links.all()] == ["#participant_ids", "#text"]
    expect(links.first).to_have_text("Participant IDs: Enter at least one participant ID.")

    participants = page.get_by_label("Participant IDs")
    expect(participants).to_have_attribute("aria-invalid", "true")
    expect(participants).to_have_attribute("aria-describedby", re.compile(r"\bparticipant_ids-error\b"))
    expect(page.locator("#participant_ids-error")).to_contain_text("Enter at least one participant ID.")
    expect(page.get_by_label("What they said")).to_have_attribute("aria-invalid", "true")
    expect(page.get_by_label("Organisation")).to_have_attribute("aria-invalid", "false")

    expect(page.get_by_label("Organisation")).to_have_value(ORG)
    expect(page.get_by_label("Activity area")).to_have_value("support")
    expect(page.get_by_label("Date it was said")).to_have_value(EARLY.isoformat())

    links.first.focus()
    page.keyboard.press("Enter")
    expect(participants).to_be_focused()


def test_staff_form_shows_typed_markup_back_as_text_and_never_runs_it(
    page: Page, dialogs: list[str], ingest_url: str
) -> None:
    breaking_out_of_a_value = f'x">{SCRIPT}'
    breaking_out_of_the_textarea = f"</textarea>{SCRIPT}<img src=x onerror=alert(2)>"
    open_form(page, ingest_url)
    page.get_by_label("Organisation").fill(breaking_out_of_a_value)
    page.get_by_label("What they said").fill(breaking_out_of_the_textarea)
    submit(page)  # invalid (no participants, bad organisation): the page shows both values back

    expect(page.get_by_role("alert")).to_be_visible()
    expect(page.get_by_label("Organisation")).to_have_value(breaking_out_of_a_value)
    expect(page.get_by_label("What they said")).to_have_value(breaking_out_of_the_textarea)
    expect(page.locator("main script, main img")).to_have_count(0)
    assert dialogs == [], "a script ran"


# --- The dashboard ----------------------------------------------------------------------------


def test_dashboard_shows_the_processed_figures_and_follows_the_filters(page: Page, dashboard_url: str) -> None:
    open_dashboard(page, dashboard_url)
    expect(page.get_by_role("button", name=re.compile("Organisation"))).to_contain_text(ORG)
    expect_figures(
        page,
        participants_involved="6",
        involvement_hours="17.5",
        contributions="3",
        changes_influenced="2",
        influence_rate="33%",  # c1 of c1-c3 led to an implemented change
    )
    start, end = default_period(TODAY)
    assert trend_months(page) == [format_month(month) for month in months_between(start, end)]
    assert trend_row(page, EARLY) == ["1", "5", "10.0"]  # contributions, participants, hours
    assert trend_row(page, LATE) == ["2", "5", "7.5"]
    assert trend_row(page, TODAY) == ["0", "0", "0.0"]
    screenshot(page, "dashboard")

    choose_period_from(page, LATE.replace(day=1))
    expect_figures(
        page,
        participants_involved="5",
        involvement_hours="7.5",
        contributions="2",
        changes_influenced="2",
        influence_rate="0%",  # c2's change is only proposed
    )
    expect(page.locator("#trend-caption")).to_have_text(
        f"Monthly figures, {format_month(LATE)} to {format_month(TODAY)}"
    )
    assert trend_months(page) == [format_month(LATE), format_month(TODAY)]

    page.get_by_role("button", name=re.compile("Organisation")).click()
    page.get_by_role("option", name=OTHER).click()
    expect_figures(
        page,
        participants_involved="fewer than 5",  # four people: suppressed
        involvement_hours="4.0",
        contributions="1",
        changes_influenced="0",
        influence_rate="0%",
    )
    assert trend_row(page, LATE) == ["1", "fewer than 5", "4.0"]
    screenshot(page, "dashboard-other-organisation")


# --- Accessibility (axe-core, WCAG 2.0/2.1/2.2 A and AA) --------------------------------------


@pytest.mark.parametrize("state", ["empty", "errors"])
def test_staff_form_has_no_wcag_violations(page: Page, axe: str, ingest_url: str, state: str) -> None:
    open_form(page, ingest_url)
    if state == "errors":
        show_errors(page)
    violations = axe_violations(page, axe)
    assert violations == [], describe(violations)


@pytest.fixture
def dashboard_violations(page: Page, axe: str, dashboard_url: str) -> list[dict[str, Any]]:
    open_dashboard(page, dashboard_url)
    expect(page.locator("#contributions")).to_have_text("3")
    expect(page.locator("#trend-chart .main-svg").first).to_be_visible()
    return axe_violations(page, axe)


def test_dashboard_has_no_wcag_violations(dashboard_violations: list[dict[str, Any]]) -> None:
    assert dashboard_violations == [], describe(dashboard_violations)
