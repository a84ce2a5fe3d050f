"""The admin pages are accessible: one h1, a title, and every control labelled."""

from __future__ import annotations

from html import unescape
from html.parser import HTMLParser

from flask import Flask
from sqlalchemy import Engine

from tests.factories import issue_token
from tests.ingest.admin.helpers import (
    account,
    admin_paths,
    client_for,
    make_operator,
    page,
    post,
    token_id_of,
)

# --- Accessible pages ---------------------------------------------------------------------------


class Structure(HTMLParser):
    """What the accessibility checks need: headings, titles, controls, labels, fieldsets and legends."""

    def __init__(self) -> None:
        super().__init__()
        self.h1s = 0
        self.title = ""
        self.controls: list[dict[str, str | None]] = []
        self.label_for: set[str] = set()
        self.ids: set[str] = set()
        self.radios_outside_fieldset = 0
        self.fieldsets_without_legend = 0
        self._fieldsets: list[bool] = []
        self._in_title = False

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        attributes = dict(attrs)
        if attributes.get("id"):
            self.ids.add(str(attributes["id"]))
        if tag == "h1":
            self.h1s += 1
        elif tag == "title":
            self._in_title = True
        elif tag == "label" and attributes.get("for"):
            self.label_for.add(str(attributes["for"]))
        elif tag == "fieldset":
            self._fieldsets.append(False)
        elif tag == "legend" and self._fieldsets:
            self._fieldsets[-1] = True
        elif tag in {"input", "select", "textarea"} and attributes.get("type") not in {"hidden", "submit"}:
            self.controls.append(attributes)
            if attributes.get("type") == "radio" and not self._fieldsets:
                self.radios_outside_fieldset += 1

    def handle_endtag(self, tag: str) -> None:
        if tag == "title":
            self._in_title = False
        elif tag == "fieldset" and self._fieldsets and not self._fieldsets.pop():
            self.fieldsets_without_legend += 1

    def handle_data(self, data: str) -> None:
        if self._in_title:
            self.title += data


def test_every_admin_page_has_one_h1_a_title_and_labelled_controls(app: Flask, engine: Engine, orgs: dict) -> None:
    issue_token(engine, "mind-leeds")
    make_operator(engine, "mind-leeds")  # so that the page for new organisations is shown too
    admin = client_for(app, orgs["mind-leeds"]["admin"])
    target = account(engine, orgs["mind-leeds"]["staff"])
    pages = [path for method, path in admin_paths(app, target.id or 0, token_id_of(engine, "mind-leeds"))]
    pages = sorted({path for path in pages if admin.get(path).status_code == 200})
    assert len(pages) >= 7, pages
    invalid = post(admin, "/admin/accounts/new", "/admin/accounts/new", email="bad")
    for path, response in [*((path, admin.get(path)) for path in pages), ("invalid form", invalid)]:
        structure = Structure()
        structure.feed(page(response))
        assert structure.h1s == 1, path
        title = unescape(structure.title).strip()
        assert title.endswith("Involvement Impact") and title.startswith("Error: ") == (path == "invalid form"), title
        for control in structure.controls:
            assert control.get("id") in structure.label_for, (path, control)
            for described in str(control.get("aria-describedby") or "").split():
                assert described in structure.ids, (path, described)
            if control.get("type") == "password":
                assert control.get("autocomplete") == "new-password" and "value" not in control, path
        assert structure.radios_outside_fieldset == 0 and structure.fieldsets_without_legend == 0, path
