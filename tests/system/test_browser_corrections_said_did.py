"""In a real (headless) browser: staff correct a change's "what we did" text and its links, and a contribution's
words, from the forms; after processing, the record pages show the new values and their history. axe-core finds
no WCAG 2.x A/AA violation on the record pages and the correction forms, empty and with their errors.
"""

from __future__ import annotations

import re

import pytest

from tests.system.browser import Page, axe_violations, describe, expect, screenshot, sign_in, summary_links
from tests.system.staff_browser import Stack, Tabs, changed, heading, notice, press, registered, said, visit

pytestmark = pytest.mark.timeout(300)
ORG = "corrections-org"
DID = "What the organisation did or will do"  # the label of a change's "what we did"


def no_violations(page: Page, axe: str, name: str) -> None:
    screenshot(page, f"corrections-{name}")
    violations = axe_violations(page, axe)
    assert violations == [], f"{name}: {describe(violations)}"


@pytest.fixture(scope="module")
def accounts(stack: Stack) -> dict[str, str]:
    made = stack.organisation(ORG)
    stack.seed(
        ORG,
        registered("p-sam", "Sam Example"),
        registered("p-kim", "Kim Other"),
        said("c-agenda", "p-sam", "Send the agenda a week earlier."),
        said("c-print", "p-kim", "Large print agendas, please."),
        changed("ch-agenda", "Agendas go out a week ahead", "c-agenda"),
    )
    stack.process()
    return made


def test_correcting_a_change_text_and_links_from_the_form(
    stack: Stack, accounts: dict[str, str], tabs: Tabs, axe: str
) -> None:
    page = tabs.open()
    sign_in(page, stack.ingest, accounts["staff"])
    visit(page, f"{stack.ingest}/staff/changes/ch-agenda")
    no_violations(page, axe, "change")
    page.get_by_role("link", name="Correct this change").click()
    expect(heading(page)).to_have_text("Correct a change")
    expect(page.get_by_label(DID)).to_have_value("Agendas now go out a week before each meeting.")
    expect(page.get_by_role("checkbox", name=re.compile("Send the agenda"))).to_be_checked()
    no_violations(page, axe, "change-correct-empty")

    press(page, "Save the correction")  # nothing changed, and no reason given
    assert summary_links(page) == ["#reason"]
    expect(page.get_by_role("alert")).to_contain_text("Say why you are correcting it")
    assert page.title().startswith("Error: ")
    no_violations(page, axe, "change-correct-errors")

    page.get_by_label(DID).fill("Agendas go out a week before each meeting, in large print on request.")
    page.get_by_role("checkbox", name=re.compile("Large print agendas")).check()
    page.locator("select[name='strength-c-print']").select_option("moderate")
    page.get_by_label("Reason for the correction").fill("Large print was part of it")
    press(page, "Save the correction")
    expect(page).to_have_url(re.compile(r"/staff/changes/ch-agenda$"))
    expect(notice(page, "Change corrected")).to_be_visible()
    stack.process()

    visit(page, f"{stack.ingest}/staff/changes/ch-agenda")
    expect(page.get_by_text("in large print on request.").first).to_be_visible()
    influenced = page.get_by_role("link", name=re.compile("Large print agendas"))
    expect(influenced).to_have_attribute("href", re.compile(r"/staff/contributions/c-print$"))
    history = page.get_by_role("region", name="History")
    expect(history).to_contain_text("Change corrected")
    expect(history).to_contain_text("Reason: Large print was part of it")
    expect(history.locator("ins").first).to_be_visible()
    no_violations(page, axe, "change-with-history")
    page.set_viewport_size({"width": 320, "height": 800})
    screenshot(page, "corrections-change-with-history-320")

    influenced.click()
    expect(page).to_have_url(re.compile(r"/staff/contributions/c-print$"))
    expect(page.get_by_role("link", name="Agendas go out a week ahead")).to_be_visible()


def test_correcting_a_contribution_from_the_form(stack: Stack, accounts: dict[str, str], tabs: Tabs, axe: str) -> None:
    page = tabs.open()
    sign_in(page, stack.ingest, accounts["staff"])
    visit(page, f"{stack.ingest}/staff/contributions/c-agenda")
    expect(page.get_by_role("link", name="Sam Example")).to_have_attribute("href", re.compile("/participants/p-sam$"))
    no_violations(page, axe, "contribution")
    page.get_by_role("link", name="Correct this contribution").click()
    expect(heading(page)).to_have_text("Correct a contribution")
    no_violations(page, axe, "contribution-correct-empty")

    page.get_by_label("What they said").fill("")
    press(page, "Save the correction")
    assert summary_links(page) == ["#text", "#reason"]
    no_violations(page, axe, "contribution-correct-errors")
    page.set_viewport_size({"width": 320, "height": 800})
    screenshot(page, "corrections-contribution-correct-errors-320")
    page.set_viewport_size({"width": 1280, "height": 900})

    page.get_by_label("What they said").fill("Send the agenda two weeks earlier.")
    page.get_by_label("Reason for the correction").fill("Typo in the quote")
    press(page, "Save the correction")
    expect(notice(page, "Contribution corrected")).to_be_visible()
    stack.process()
    visit(page, f"{stack.ingest}/staff/contributions/c-agenda")
    expect(page.locator("blockquote")).to_have_text("“Send the agenda two weeks earlier.”")
    history = page.get_by_role("region", name="History")
    expect(history).to_contain_text("Contribution corrected")
    expect(history).to_contain_text("Reason: Typo in the quote")
    no_violations(page, axe, "contribution-with-history")


def test_a_declined_change_shows_what_was_proposed_and_why_not(
    stack: Stack, accounts: dict[str, str], tabs: Tabs, axe: str
) -> None:
    page = tabs.open()
    sign_in(page, stack.ingest, accounts["staff"])
    visit(page, f"{stack.ingest}/staff/changes/ch-agenda/status")
    page.get_by_role("radio", name=re.compile("^Declined")).check()
    page.get_by_label("Note (needed if declined)").fill("The printer cannot do large print yet.")
    press(page, "Update status")
    stack.process()
    visit(page, f"{stack.ingest}/staff/changes/ch-agenda")
    expect(page.get_by_role("heading", name="What was proposed")).to_be_visible()
    expect(page.get_by_role("heading", name=re.compile("What the organisation"))).to_have_count(0)
    expect(page.locator("dl.summary")).to_contain_text("Why it was declined")
    expect(page.locator("dl.summary")).to_contain_text("The printer cannot do large print yet.")
    no_violations(page, axe, "change-declined")
