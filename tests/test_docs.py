"""The README and docs/ stay true: every setting documented, the API example valid on the demo data, links alive."""

from __future__ import annotations

import json
import re
import shlex
from datetime import UTC, datetime
from pathlib import Path
from urllib.parse import unquote, urlsplit

import pytest

from impact.demo import demo_events
from impact.settings import settings_variables
from schemas.events import EVENT_ADAPTER, ParticipantRegisteredEvent

ROOT = Path(__file__).resolve().parents[1]
README = ROOT / "README.md"
DOCS = ROOT / "docs"
CONFIGURATION = DOCS / "configuration.md"
PAGES = [README, ROOT / "SECURITY.md", *sorted(DOCS.rglob("*.md"))]
# Read by the test suite, not by the product: named in the docs, but not a setting.
TEST_VARIABLES = {"IMPACT_TEST_POSTGRES_URL"}

LINK = re.compile(r"!?\[[^\]]*\]\(([^)\s]+)(?:\s+\"[^\"]*\")?\)")
FENCE = re.compile(r"^```.*?^```", re.MULTILINE | re.DOTALL)
INLINE_CODE = re.compile(r"`[^`\n]*`")


def test_every_setting_is_documented() -> None:
    text = CONFIGURATION.read_text()
    documented = set(re.findall(r"`(IMPACT_[A-Z0-9_]+)`", text))
    assert sorted(settings_variables() - documented) == []


def test_every_impact_name_in_the_docs_is_a_setting() -> None:
    named = {
        (page.relative_to(ROOT).as_posix(), name)
        for page in PAGES
        for name in re.findall(r"\bIMPACT_[A-Z0-9_]*[A-Z0-9]\b", page.read_text())
    }
    assert sorted((page, name) for page, name in named if name not in settings_variables() | TEST_VARIABLES) == []


def _curl_json(page: Path) -> dict[str, object]:
    """The JSON body (`-d '...'`) of the page's curl command that posts to the events API."""
    for block in FENCE.findall(page.read_text()):
        command = block.split("\n", 1)[1].rsplit("```", 1)[0].replace("\\\n", " ")
        if "curl" not in command or "/api/v1/events" not in command:
            continue
        words = shlex.split(command[command.index("curl") :])
        body = words[words.index("-d") + 1]
        parsed: dict[str, object] = json.loads(body)
        return parsed
    raise AssertionError(f"{page.relative_to(ROOT)} has no curl example posting to /api/v1/events")


@pytest.mark.parametrize("page", [README, DOCS / "api.md"], ids=lambda page: page.name)
def test_the_api_example_works_on_the_demo_data(page: Path) -> None:
    body = _curl_json(page)
    event = EVENT_ADAPTER.validate_python(body)  # ingest would answer 202, not 422
    registered = {
        (demo.org_id, demo.payload.participant_id)
        for demo in demo_events(today=datetime.now(UTC).date())
        if isinstance(demo, ParticipantRegisteredEvent)
    }
    participant = getattr(event.payload, "participant_id", None)
    # The processor would find the participant, so the event is folded, not dead-lettered.
    assert (event.org_id, participant) in registered, f"{participant} is not a demo participant of {event.org_id}"


def _links(page: Path) -> list[str]:
    text = INLINE_CODE.sub("", FENCE.sub("", page.read_text()))
    return LINK.findall(text)


def _anchors(page: Path) -> set[str]:
    """GitHub's anchors for the page's headings."""
    headings = re.findall(r"^#+\s+(.*)$", FENCE.sub("", page.read_text()), re.MULTILINE)
    return {re.sub(r"[^\w\- ]", "", heading.strip().lower()).replace(" ", "-") for heading in headings}


@pytest.mark.parametrize("page", PAGES, ids=lambda page: page.relative_to(ROOT).as_posix())
def test_every_relative_link_points_to_a_file(page: Path) -> None:
    broken = []
    for link in _links(page):
        parts = urlsplit(link)
        if parts.scheme or link.startswith("//"):
            continue  # an address on the web (or localhost): not checked here
        target = (page.parent / unquote(parts.path)).resolve() if parts.path else page
        missing_anchor = parts.fragment and target.suffix == ".md" and parts.fragment not in _anchors(target)
        if not target.exists() or missing_anchor:
            broken.append(link)
    assert broken == []


def test_the_readme_is_for_a_newcomer() -> None:
    lines = README.read_text().splitlines()
    assert len(lines) <= 200
    for image in ("staff-form.png", "dashboard.png", "participant-page.png"):
        assert f"docs/images/{image}" in README.read_text()
