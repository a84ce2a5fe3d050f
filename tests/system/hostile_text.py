"""Hostile free text (issue 7): the corpus (markup, spreadsheet formulas, very long and non-Latin text), the
events and form posts that carry it, and the checks that HTML, CSV and Dash output keep it as text.

The test that records it everywhere and reads it back from every surface is test_security_hostile_text.py.
"""

from __future__ import annotations

import csv
import io
import re
import uuid
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from html.parser import HTMLParser
from typing import Any

from flask.testing import FlaskClient

ORG = "mind-leeds"
LONG = "=" + ("very long text " * 1400)[:19_999]  # 20,000 characters, a formula too
CORPUS = {
    "script": "<script>alert(1)</script>",
    "attribute": '"><img src=x onerror=alert(1)>',
    "html": '<b>bold</b> <a href="http://evil.example">click</a> <iframe src="//evil.example"></iframe>',
    "hyperlink": '=HYPERLINK("http://evil.example","x")',
    "dde": "+cmd|' /C calc'!A0",
    "at-sum": "@SUM(1)",
    "minus": "-1+1",
    "tab": "\t=1+2",  # free text is trimmed, so these are stored as "=1+2"
    "cr": "\r=1+2",
    "header-injection": "Line one\r\nBcc: evil@example.org",
    "recipient-injection": "Eve <evil@example.org>, " + "x" * 90,  # a long header is folded: see _header_name
    "javascript-url": "javascript:alert(1)",
    "template": "{{ 7*7 }} {% if 1 %}x{% endif %} ${7*7}",
    "sql": "Robert'); DROP TABLE participant; --",
    "long": LONG,
    "arabic": "مرحبا، هذا ما قلته عن الخدمة",
    "cjk": "你好、世界 こんにちは 안녕하세요",
    "emoji": "👩🏽‍🦯 carer 🏳️‍🌈 ❤️",
    "combining": "Zalgo z̷̢̛a̶l̵g̸o̴ café",
    "zero-width": "zero\u200bwidth\u200djoin\ufeffmark",
    "rtl-override": "invoice \u202egpj.exe",
}
KEYS = list(CORPUS)
LIMITS = {"name": 120, "title": 200, "address": 400, "note": 2000, "said": 4000}
MARKUP = [value for value in CORPUS.values() if "<" in value or '"' in value]
NOW = datetime.now(UTC)
DECIDED = (NOW - timedelta(days=3)).date()
PERIOD = f"?from={(NOW - timedelta(days=60)).date()}&to={NOW.date()}"
HOSTILE_ORG_NAME = 'Evil "><img src=x onerror=alert(1)> <script>alert(1)</script> Charity\r\nBcc: evil@example.org'


def fit(value: str, limit: str) -> str:
    return value[: LIMITS[limit]]


def stored(value: str) -> str:
    """As the event models keep free text: trimmed."""
    return value.strip()


def _at(days_ago: float) -> str:
    return (NOW - timedelta(days=days_ago)).isoformat()


def _event(type_: str, payload: dict[str, Any], days_ago: float, **extra: Any) -> dict[str, Any]:
    return {"type": type_, "org_id": ORG, "occurred_at": _at(days_ago), "payload": payload, **extra}


def dead_letter_id(i: int) -> str:
    return str(uuid.uuid5(uuid.NAMESPACE_URL, f"hostile-dead-letter/{i}"))


def api_events(i: int, value: str) -> list[dict[str, Any]]:
    """Everything but the postal participant (registered through the form), for corpus string `i`."""
    return [
        _event(
            "participant.registered",
            {
                "participant_id": f"p-{i}",
                "display_name": fit(value, "name"),
                "role": "carer",
                "contact": {"email": f"p{i}@example.org", "postal_address": fit(value, "address")},
                "consent_to_contact": True,
                "preferred_channel": "email",
            },
            40,
        ),
        _event(
            "activity.held",
            {
                "activity_id": f"a-{i}",
                "title": fit(value, "title"),
                "area": "support",
                "level": "co_production",
                "date": (NOW - timedelta(days=30)).date().isoformat(),
                "duration_hours": 2,
            },
            30,
        ),
        _event("session.attended", {"activity_id": f"a-{i}", "participant_id": f"p-{i}", "hours": 2}, 30),
        _event(
            "contribution.made",
            {
                "contribution_id": f"c-{i}",
                "participant_ids": [f"p-{i}", f"q-{i}"],
                "activity_id": f"a-{i}",
                "area": "support",
                "text": fit(value, "said"),
            },
            29,
        ),
        _event(
            "change.recorded",
            {
                "change_id": f"ch-{i}",
                "area": "support",
                "title": fit(value, "title"),
                "description": fit(value, "said"),
                "links": [{"contribution_id": f"c-{i}", "strength": "major"}],
            },
            20,
        ),
        _event(
            "change.status_changed",
            {"change_id": f"ch-{i}", "status": "declined", "note": fit(value, "note"), "decided_on": str(DECIDED)},
            3,
            schema_version=2,
        ),
        # Refused by the processor (nobody of that reference): staff see it on "Needs attention".
        _event(
            "contribution.made",
            {"contribution_id": f"c-dead-{i}", "participant_ids": ["nobody"], "area": "support", "text": value[:4000]},
            2,
            event_id=dead_letter_id(i),
        ),
    ]


def form_post(client: FlaskClient, path: str, fields: dict[str, Any]) -> Any:
    page = client.get(path).get_data(as_text=True)
    token = re.search(r'name="csrf_token" value="([^"]+)"', page)
    submission = re.search(r'name="submission" value="([^"]+)"', page)
    assert token and submission, path
    return client.post(path, data={"csrf_token": token.group(1), "submission": submission.group(1), **fields})


# --- Checks --------------------------------------------------------------------------------------


URL_ATTRIBUTES = {"href", "src", "action", "formaction", "srcset", "poster", "background", "style"}


class _Markup(HTMLParser):
    """The elements of a page as a browser parses them: what could run or load, and the scripts' text."""

    def __init__(self) -> None:
        super().__init__(convert_charrefs=True)
        self.problems: list[str] = []
        self._in_script = False

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        for name, value in attrs:
            if name.startswith("on"):
                self.problems.append(f"<{tag} {name}={value!r}>: an event handler")
            if (
                name in URL_ATTRIBUTES
                and value
                and ("evil.example" in value or value.strip().lower().startswith("javascript:"))
            ):
                self.problems.append(f"<{tag} {name}={value!r}>: their address")
        if tag in {"iframe", "object", "embed"} or (tag == "img" and ("src", "x") in attrs):
            self.problems.append(f"<{tag}>: their element")
        self._in_script = tag == "script"

    def handle_endtag(self, tag: str) -> None:
        self._in_script = False

    def handle_data(self, data: str) -> None:
        if self._in_script and "alert(" in data:
            self.problems.append(f"a script of theirs: {data[:60]!r}")


def assert_safe_html(body: str, where: str) -> None:
    """No string of the corpus carries markup into the page; no event handler, element or script of theirs."""
    for value in MARKUP:
        for form in {value, stored(value), fit(value, "name"), fit(value, "title")}:
            assert form not in body, f"{where} shows {form!r} unescaped"
    parser = _Markup()
    parser.feed(body)
    parser.close()
    assert not parser.problems, f"{where}: {parser.problems[:3]}"


def _is_number(cell: str) -> bool:
    try:
        float(cell.replace(",", "").rstrip("%"))
    except ValueError:
        return False
    return True


def csv_cells(body: str) -> list[str]:
    return [cell for row in csv.reader(io.StringIO(body.removeprefix("\ufeff"))) for cell in row]


def assert_safe_csv(body: str, where: str) -> list[str]:
    cells = csv_cells(body)
    for cell in cells:
        if cell[:1] in ("=", "+", "-", "@", "\t", "\r"):
            assert _is_number(cell), f"{where}: a cell a spreadsheet would run: {cell[:80]!r}"
    return cells


def strings_in(node: Any) -> Iterator[str]:
    if isinstance(node, dict):
        for value in node.values():
            yield from strings_in(value)
    elif isinstance(node, list):
        for value in node:
            yield from strings_in(value)
    elif isinstance(node, str):
        yield node


def assert_safe_dash(node: Any, where: str) -> None:
    """React renders strings as text; markup could only get in as Markdown or HTML that Dash is told to trust,
    and through Plotly, which draws a few tags (such as <a href>) in chart text."""
    if isinstance(node, dict):
        assert node.get("type") not in {"Markdown", "Iframe"}, f"{where}: a {node.get('type')} component"
        assert not node.get("dangerously_allow_html"), where
        assert "srcDoc" not in node and "dangerouslySetInnerHTML" not in node, where
        if "figure" in node:
            for text in strings_in(node["figure"]):
                for value in MARKUP:
                    assert fit(value, "title") not in text and stored(value) not in text, f"{where}: chart {text!r}"
        for value in node.values():
            assert_safe_dash(value, where)
    elif isinstance(node, list):
        for value in node:
            assert_safe_dash(value, where)
