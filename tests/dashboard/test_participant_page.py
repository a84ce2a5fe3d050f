"""A participant's own page, `GET /you/<token>`: everything they said and what came of it, opened from
their private link without signing in, on SQLite and on PostgreSQL.

Seeded as events and processed, as in the product. org-a ("Alpha Carers Forum"):
- Ada (p1), the link's owner; Ben (p2), who made one contribution with her; Cress (p3), who did not;
  Dorothea (p4), who has said nothing yet;
- Ada's contributions, newest first: c5 (nothing linked), c4 (linked to proposed ch4 only), c3 (hostile
  text, declined ch3 with a reason), c2 (with Ben, agreed ch2), c1 (at activity a1, implemented ch1, and
  proposed ch4);
- Cress's c6 is linked to ch1 too, and to ch5, which only she influenced.
org-b ("Beta Voices Network") reuses every id (p1, c1, ch1, a1) with data of its own that must never show.
"""

from __future__ import annotations

import itertools
import re
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from html.parser import HTMLParser
from typing import Any

import pytest
from flask.testing import FlaskClient
from sqlalchemy import Engine, select
from sqlalchemy import text as sql
from sqlmodel import Session

from dashboard import create_app
from impact.auth.accounts import create_organisation
from impact.eventlog import open_event_log
from impact.eventlog.recording import record
from impact.feedback import links
from impact.feedback.outcomes import Decision
from impact.feedback.summaries import day, influence, what_happened
from impact.settings import Settings
from processors.quality import QualityGate
from schemas.events import EVENT_ADAPTER
from schemas.readmodels import DeadLetter
from tests.factories import process_all

pytestmark = pytest.mark.timeout(240)

NOW = datetime.now(UTC)
ADA, BEN, CRESS = "Ada Quillfeather-Moss", "Benedict Okonkwo-Hale", "Cressida Vantongeren"
HOSTILE = '<script>alert(1)</script> =HYPERLINK("x") <img src=x onerror=alert(2)>'
SAID = {
    "c1": "Please hold the research panels in the evening, after work.",
    "c2": "Pay people for the time they give to the board.",
    "c3": f"Letters are too long. {HOSTILE}",
    "c4": "Handouts in large print would help me.",
    "c5": "The waiting room is too noisy.",
    "c6": "Words only Cressida said, about parking.",
}
CHANGES = {  # change id: (title, description)
    "ch1": ("Panels moved to the evening", "Research panels now meet from 6pm."),
    "ch2": ("A payment policy", "We will pay people for their time at the board."),
    "ch3": ("Shorter letters", "We looked at rewriting every letter in plain English."),
    "ch4": ("Large-print handouts", "Every handout in large print."),
    "ch5": ("Free parking for visitors", "Visitors park free of charge."),
}
DECLINED_BECAUSE = "The letters are set by the NHS trust, so we cannot change them ourselves."
ORG_A, ORG_B = "Alpha Carers Forum", "Beta Voices Network"
ORG_B_ONLY = ("Beta Person", "Beta said this", "Beta change", "Beta activity", ORG_B)
ACTIVITY = "Research panel, spring"


def _event(org: str, type_: str, payload: dict[str, Any], days_ago: float) -> Any:
    when = (NOW - timedelta(days=days_ago)).isoformat()
    return EVENT_ADAPTER.validate_python({"type": type_, "org_id": org, "occurred_at": when, "payload": payload})


def _registered(org: str, pid: str, name: str) -> Any:
    payload = {
        "participant_id": pid,
        "display_name": name,
        "role": "carer",
        "contact": {"email": f"{pid}@{org}.example.org"},
        "consent_to_contact": True,
        "preferred_channel": "email",
    }
    return _event(org, "participant.registered", payload, 400)


def _said(org: str, cid: str, pids: list[str], area: str, days_ago: float, activity: str | None = None) -> Any:
    payload = {"contribution_id": cid, "participant_ids": pids, "area": area, "text": SAID[cid]}
    if activity:
        payload["activity_id"] = activity
    return _event(org, "contribution.made", payload, days_ago)


def _change(org: str, chid: str, status: str, days_ago: float, links_: list[tuple[str, str]], title: str = "") -> Any:
    default_title, description = CHANGES.get(chid, ("", ""))
    payload: dict[str, Any] = {
        "change_id": chid,
        "area": "research",
        "title": title or default_title,
        "description": description or f"{title}, described.",
        "status": status,
        "links": [{"contribution_id": cid, "strength": strength} for cid, strength in links_],
    }
    if status in ("agreed", "implemented", "declined"):
        payload["decided_on"] = (NOW - timedelta(days=days_ago)).date().isoformat()
    return _event(org, "change.recorded", payload, days_ago)


def org_a_events() -> list[Any]:
    a = "org-a"
    return [
        _registered(a, "p1", ADA),
        _registered(a, "p2", BEN),
        _registered(a, "p3", CRESS),
        _registered(a, "p4", "Dorothea Newcombe"),
        _event(
            a,
            "activity.held",
            {
                "activity_id": "a1",
                "title": ACTIVITY,
                "area": "research",
                "level": "co_production",
                "date": (NOW - timedelta(days=100)).date().isoformat(),
                "duration_hours": 2,
            },
            100,
        ),
        _said(a, "c1", ["p1"], "research", 100, activity="a1"),
        _said(a, "c2", ["p1", "p2"], "governance", 80),
        _said(a, "c3", ["p1"], "complaints", 60),
        _said(a, "c4", ["p1"], "publications", 40),
        _said(a, "c5", ["p1"], "support", 20),
        _said(a, "c6", ["p3"], "strategy_policy", 90),
        _change(a, "ch1", "implemented", 50, [("c1", "major"), ("c6", "minor")]),
        _change(a, "ch2", "proposed", 70, [("c2", "moderate")]),
        _event(a, "change.status_changed", {"change_id": "ch2", "status": "agreed"}, 30),
        _change(a, "ch3", "proposed", 55, [("c3", "minor")]),
        _event(a, "change.status_changed", {"change_id": "ch3", "status": "declined", "note": DECLINED_BECAUSE}, 25),
        _change(a, "ch4", "proposed", 35, [("c4", "moderate"), ("c1", "minor")]),
        _change(a, "ch5", "implemented", 45, [("c6", "major")]),
    ]


def org_b_events() -> list[Any]:
    """The same ids in another organisation, with data of its own."""
    b = "org-b"
    return [
        _registered(b, "p1", "Beta Person"),
        _event(
            b,
            "activity.held",
            {
                "activity_id": "a1",
                "title": "Beta activity",
                "area": "research",
                "level": "consultation",
                "date": (NOW - timedelta(days=10)).date().isoformat(),
                "duration_hours": 1,
            },
            10,
        ),
        _event(
            b,
            "contribution.made",
            {"contribution_id": "c1", "participant_ids": ["p1"], "area": "research", "text": "Beta said this"},
            10,
        ),
        _change(b, "ch1", "implemented", 5, [("c1", "major")], title="Beta change"),
    ]


@dataclass
class Seeded:
    settings: Settings
    engine: Engine
    client: FlaskClient

    def link(self, org_id: str = "org-a", participant_id: str = "p1", **kwargs: Any) -> str:
        """A new link's path for the participant (kwargs: days, now, secret_key)."""
        secret_key = kwargs.pop("secret_key", self.settings.signing_key)
        kwargs.setdefault("days", self.settings.participant_link_days)
        with self.engine.begin() as conn:
            token, _expires = links.create(
                conn, secret_key=secret_key, org_id=org_id, participant_id=participant_id, **kwargs
            )
        return f"/you/{token}"

    def record(self, *events: Any) -> None:
        with open_event_log(self.settings) as event_log:
            record(event_log, self.settings.topic, list(events), recorded_by="test:seed", engine=self.engine)


def seed(settings: Settings, engine: Engine, gate: QualityGate) -> None:
    """Both organisations' events, processed into the read models; nothing may be rejected."""
    with Session(engine) as session:
        create_organisation(session=session, org_id="org-a", name=ORG_A)
        create_organisation(session=session, org_id="org-b", name=ORG_B)
        session.commit()
    with open_event_log(settings) as event_log:
        events = org_a_events() + org_b_events()
        record(event_log, settings.topic, events, recorded_by="test:seed", engine=engine)
    process_all(settings, engine, gate)
    with Session(engine) as session:
        rejected = session.exec(select(DeadLetter)).all()  # type: ignore[call-overload]
    assert rejected == [], f"events were rejected: {rejected}"


@pytest.fixture
def seeded(engine: Engine, log_settings: Callable[[str], Settings], gate: QualityGate) -> Iterator[Seeded]:
    settings = log_settings("embedded")
    seed(settings, engine, gate)
    yield Seeded(settings, engine, create_app(settings, engine).server.test_client())


class Page(HTMLParser):
    """The page's visible text, its headings in order, and its quoted words."""

    def __init__(self, html: str) -> None:
        super().__init__()
        self.text: list[str] = []
        self.headings: list[tuple[int, str]] = []
        self.quotes: list[str] = []
        self.meta: dict[str, str] = {}
        self.lang = ""
        self.landmarks: list[str] = []
        self._in: list[str] = []
        self._skip = 0
        self.feed(html)

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        found = dict(attrs)
        if tag == "html":
            self.lang = found.get("lang") or ""
        if tag == "meta" and found.get("name"):
            self.meta[str(found["name"])] = found.get("content") or ""
        if tag in ("header", "main", "footer", "nav"):
            self.landmarks.append(tag)
        if tag in ("script", "style", "title"):
            self._skip += 1
        self._in.append(tag)
        if re.fullmatch(r"h[1-6]", tag):
            self.headings.append((int(tag[1]), ""))
        if tag == "blockquote":
            self.quotes.append("")

    def handle_endtag(self, tag: str) -> None:
        if tag in ("script", "style", "title"):
            self._skip -= 1
        if tag in self._in:
            while self._in and self._in.pop() != tag:
                pass

    def handle_data(self, data: str) -> None:
        if self._skip:
            return
        self.text.append(data)
        if any(re.fullmatch(r"h[1-6]", tag) for tag in self._in) and self.headings:
            level, text = self.headings[-1]
            self.headings[-1] = (level, " ".join(f"{text} {data}".split()))
        if "blockquote" in self._in and self.quotes:
            self.quotes[-1] = " ".join(f"{self.quotes[-1]} {data}".split())

    @property
    def visible(self) -> str:
        return " ".join(" ".join(self.text).split())


def _get(client: FlaskClient, path: str) -> tuple[int, str, Any]:
    response = client.get(path)
    return response.status_code, response.get_data(as_text=True), response.headers


# --- The page -------------------------------------------------------------------------------------


def test_the_page_shows_everything_the_person_said_and_what_came_of_it(seeded: Seeded) -> None:
    status, html, _headers = _get(seeded.client, seeded.link())
    assert status == 200, html[:500]
    page = Page(html)
    text = page.visible
    assert ORG_A in text
    assert f"Hello {ADA}" in text
    assert "Here is everything you have told us, and what came of it." in text
    # every contribution of hers, quoted: those something was decided about first, then the rest; newest first
    assert page.quotes == [SAID[c] for c in ("c3", "c2", "c1", "c5", "c4")]
    # the date, the area, the activity
    assert f"What you said on {day((NOW - timedelta(days=100)).date())}" in text
    for area in ("Research", "Governance", "Complaints and comments", "Publications", "Support"):
        assert area in text
    assert ACTIVITY in text
    # what came of it, in the e-mails' words
    for chid, said in (("ch1", "What we did: "), ("ch2", "What we will do: ")):
        title, description = CHANGES[chid]
        assert title in text and f"{said}{description}" in text
    title, description = CHANGES["ch3"]
    assert title in text and description not in text, "a declined change never reads as if it was done"
    for chid, status, days_ago, note, strength in (
        ("ch1", "implemented", 50, None, "major"),
        ("ch2", "agreed", 30, None, "moderate"),
        ("ch3", "declined", 25, DECLINED_BECAUSE, "minor"),
    ):
        title, description = CHANGES[chid]
        decided = (NOW - timedelta(days=days_ago)).date()
        decision = Decision(chid, title, description, "research", status, note, decided)
        assert what_happened(decision) in text, chid
        assert influence(strength) in text, chid
    assert DECLINED_BECAUSE in text, "a declined change is explained, never hidden"
    # the status is said in words (never by colour alone)
    for words in ("Change made", "Change agreed", "Not able to make this change"):
        assert words in text
    # nothing decided yet: c4 (only a proposed change) and c5 (nothing linked), in one group, said once
    assert text.count("Still being decided: 2 things you said") == 1
    assert text.count("We have not decided anything about these yet.") == 1
    assert CHANGES["ch4"][0] not in text, "a proposed change is not yet something that came of it"
    assert text.count("We are still thinking about other ideas that came from what you said.") == 1  # c1
    # when the link stops working
    until = (NOW + timedelta(days=seeded.settings.participant_link_days)).date()
    assert f"This page's link works until {day(until)}" in text


def test_the_page_shows_nobody_elses_data(seeded: Seeded) -> None:
    _status, html, _headers = _get(seeded.client, seeded.link())
    assert BEN not in html, "a joint contribution's words are hers too, but the others are never named"
    assert CRESS not in html
    assert SAID["c6"] not in html, "the other person's words linked to the same change"
    assert CHANGES["ch5"][0] not in html, "a change only someone else influenced"
    for other in ORG_B_ONLY:
        assert other not in html, f"another organisation's {other!r}"
    for private in ("p1@org-a.example.org", "p2@", "p3@"):
        assert private not in html


def test_each_participant_sees_only_their_own_page(seeded: Seeded) -> None:
    _status, html, _headers = _get(seeded.client, seeded.link(participant_id="p2"))
    page = Page(html)
    assert f"Hello {BEN}" in page.visible
    assert page.quotes == [SAID["c2"]], "only the joint contribution"
    assert ADA not in html

    _status, html, _headers = _get(seeded.client, seeded.link(org_id="org-b", participant_id="p1"))
    page = Page(html)
    assert ORG_B in page.visible and "Hello Beta Person" in page.visible
    assert page.quotes == ["Beta said this"] and "Beta change" in page.visible
    for own in (ADA, ORG_A, SAID["c1"], CHANGES["ch1"][0], ACTIVITY):
        assert own not in html, f"org-a's {own!r} on org-b's page"


def test_someone_who_has_said_nothing_yet_is_told_so(seeded: Seeded) -> None:
    status, html, _headers = _get(seeded.client, seeded.link(participant_id="p4"))
    page = Page(html)
    assert status == 200 and "Hello Dorothea Newcombe" in page.visible
    assert page.quotes == []
    assert "We have no record yet of anything you have told us." in page.visible
    assert ADA not in html


def test_the_page_says_so_when_it_cannot_be_read(seeded: Seeded) -> None:
    path = seeded.link()
    with seeded.engine.begin() as conn:
        conn.execute(sql("DROP TABLE participant_link"))  # as good as a database that does not answer
    code, html, headers = _get(seeded.client, path)
    assert code == 503
    assert Page(html).headings == [(1, "This page cannot be shown right now")]
    assert headers["Cache-Control"] == "no-store" and ADA not in html


def test_hostile_text_is_escaped(seeded: Seeded) -> None:
    _status, html, _headers = _get(seeded.client, seeded.link())
    assert "<script>alert(1)</script>" not in html
    assert "<img src=x" not in html
    assert "&lt;script&gt;alert(1)&lt;/script&gt;" in html
    assert "=HYPERLINK(&#34;x&#34;)" in html or "=HYPERLINK(&quot;x&quot;)" in html
    assert SAID["c3"] in Page(html).quotes, "shown exactly as said, as text"
    assert re.findall(r"<script\b[^>]*>", html) == ['<script src="/static/participant.js" defer>']


def test_the_page_is_accessible_in_its_markup(seeded: Seeded) -> None:
    _status, html, _headers = _get(seeded.client, seeded.link())
    page = Page(html)
    assert page.lang == "en-GB"
    assert page.meta["robots"].startswith("noindex")
    assert page.meta["viewport"] == "width=device-width, initial-scale=1"
    assert [level for level, _ in page.headings].count(1) == 1
    assert page.headings[0] == (1, f"Hello {ADA}")
    levels = [level for level, _ in page.headings]
    assert all(b <= a + 1 for a, b in itertools.pairwise(levels)), f"headings skip a level: {levels}"
    assert page.landmarks == ["header", "main", "footer"]
    assert '<a class="skip-link" href="#main">Skip to main content</a>' in html
    assert 'id="main"' in html
    assert '<button type="button" class="button" id="print-page" hidden>Print this page</button>' in html


def test_the_page_is_private_to_its_link(seeded: Seeded) -> None:
    status, _html, headers = _get(seeded.client, seeded.link())
    assert status == 200
    assert headers["Cache-Control"] == "no-store"
    assert headers["Referrer-Policy"] == "no-referrer"
    assert headers["X-Robots-Tag"].startswith("noindex")
    assert headers["X-Frame-Options"] == "DENY"
    assert "script-src 'self'" in headers["Content-Security-Policy"]
    assert "Set-Cookie" not in headers, "no session for a participant"


def test_the_token_is_opaque(seeded: Seeded) -> None:
    path = seeded.link()
    for personal in ("p1", "org-a", "Ada", "Quillfeather"):
        assert personal not in path


def test_the_static_files_are_served_without_sign_in(seeded: Seeded) -> None:
    files = {}
    for name in ("participant.css", "participant.js"):
        with seeded.client.get(f"/static/{name}") as response:
            assert response.status_code == 200, name
            files[name] = response.get_data(as_text=True)
    assert "@media print" in files["participant.css"] and "break-inside: avoid" in files["participant.css"]
    assert "window.print()" in files["participant.js"]


# --- Links that do not open ---------------------------------------------------------------------


def flipped(path: str) -> str:
    """The path with one character of the token's signature changed.

    Not the last character: of its 6 bits, base64 uses only the high 4 for a 20-byte signature, so some
    changes there (A to B) decode to the very same signature.
    """
    at = len(path) - 10
    return path[:at] + ("A" if path[at] != "A" else "z") + path[at + 1 :]


def _refused(seeded: Seeded, path: str, status: int, title: str) -> str:
    code, html, headers = _get(seeded.client, path)
    assert code == status, (path, code, html[:300])
    page = Page(html)
    assert page.headings == [(1, title)]
    assert "ask the charity that sent you this link for a new one" in page.visible
    assert headers["Cache-Control"] == "no-store"
    assert headers["Referrer-Policy"] == "no-referrer"
    assert headers["X-Robots-Tag"].startswith("noindex")
    assert page.meta["robots"].startswith("noindex")
    assert page.lang == "en-GB" and page.landmarks == ["header", "main", "footer"]
    for whose in (ADA, "Ada", BEN, ORG_A, ORG_B, "org-a", "p1", SAID["c1"]):
        assert whose not in page.visible, f"a refusal names {whose!r}"
    assert ADA not in html and ORG_A not in html
    return html


@pytest.mark.parametrize(
    "tamper",
    [
        pytest.param(flipped, id="one-character-flipped"),
        pytest.param(lambda path: "/you/" + "k3J9x_Qm2Lr8vTz0aYbWc4Nd6Ef1Gh5", id="a-random-string"),
        pytest.param(lambda path: path[: path.rindex(".")], id="signature-cut-off"),
        pytest.param(lambda path: "/you/" + "x" * 5000, id="very-long"),
    ],
)
def test_a_tampered_link_does_not_work(seeded: Seeded, tamper: Callable[[str], str]) -> None:
    _refused(seeded, tamper(seeded.link()), 404, "This link does not work")


def test_a_link_signed_with_another_key_does_not_work(seeded: Seeded) -> None:
    _refused(seeded, seeded.link(secret_key="another key " * 4), 404, "This link does not work")


def test_an_expired_link_is_refused(seeded: Seeded) -> None:
    path = seeded.link(days=30, now=NOW - timedelta(days=31))
    html = _refused(seeded, path, 410, "This link has expired")
    assert "This link has expired" in html


def test_a_revoked_link_is_refused(seeded: Seeded) -> None:
    path = seeded.link()
    assert seeded.client.get(path).status_code == 200
    with seeded.engine.begin() as conn:
        assert links.revoke(conn, org_id="org-a", participant_id="p1") >= 1
    _refused(seeded, path, 410, "This link no longer works")
    assert seeded.client.get(seeded.link(participant_id="p2")).status_code == 200, "only her links"


def test_an_erased_participants_page_shows_nothing(seeded: Seeded, gate: QualityGate) -> None:
    path = seeded.link()
    seeded.record(_event("org-a", "participant.erased", {"participant_id": "p1"}, 0))
    process_all(seeded.settings, seeded.engine, gate)
    html = _refused(seeded, path, 410, "This link no longer works")
    for said in SAID.values():
        assert said not in html


def test_the_page_needs_no_sign_in_but_the_dashboard_still_does(seeded: Seeded) -> None:
    assert seeded.client.get(seeded.link()).status_code == 200
    for private in ("/", "/report", "/export/overview/monthly.csv"):
        response = seeded.client.get(private)
        assert response.status_code == 302, private
        assert "/login" in response.headers["Location"]
    assert seeded.client.post("/_dash-update-component", json={}).status_code == 401
    code_form = seeded.client.get("/you/")
    assert code_form.status_code == 200, "without a token: the form for a letter's short code"
    assert "Type the code from your letter" in code_form.get_data(as_text=True)
    assert ADA not in code_form.get_data(as_text=True) and ORG_A not in code_form.get_data(as_text=True)
