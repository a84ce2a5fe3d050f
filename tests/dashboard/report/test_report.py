"""The printable annual report: the six UK Standards and GRIPP2, filled from hand-counted read-model rows.

org-a's 2025, counted by hand (org-b reuses every id, with figures of its own that must never show):
- activities a1 (research, co-production, 10 Mar) and a2 (governance, consultation, 5 Jun); a0 is in 2024;
- attendances: p1 to p5 at a1 (2 hours each), p1 and p6 at a2 (1.5 hours each): 7 attendances, 13.0 hours;
- contributions: c1 (p1, at a1, with a <script>), c2 (p2, at a1), c3 (p6, at a2), c4 (p7, no activity,
  p7 since erased); c0 by p1 is from December 2024. People involved: p1 to p7 = 7; new: all but p1 (6);
  returning (two or more months): p1 only;
- roles: p1 to p5 service users, p6 a carer, p7 erased;
- changes: ch1 implemented 15 Apr (c1 major, c4 minor), ch2 agreed 1 Jul (c3 moderate), ch3 declined 1 May
  (c2 minor), ch4 proposed 1 Aug (c2 moderate). Influenced: c1, c3, c4 = 3 of 4 (75%). Days to change:
  36, 14, 26, 52 -> median 31 over 4 links;
- feedback owed: (p1, ch1) and (p2, ch3) (p6 did not consent, p7 is erased); sent: p1 on 20 Apr (5 days);
- data: 3 events accepted, 1 rejected and since corrected.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Callable
from datetime import UTC, date, datetime
from html.parser import HTMLParser
from pathlib import Path
from typing import Any

import pytest
from flask.testing import FlaskClient
from sqlalchemy import Engine
from sqlmodel import Session

from dashboard import create_app
from impact.auth.accounts import Role, create_account, create_organisation
from impact.settings import Environment, Settings
from schemas.readmodels import (
    Activity,
    Attendance,
    Change,
    ChangeLink,
    Contribution,
    ContributionParticipant,
    DeadLetter,
    Feedback,
    Participant,
    ProcessedEvent,
)
from schemas.vocab import label
from tests.factories import PASSWORD, sign_in

YEAR = "/report?from=2025-01-01&to=2025-12-31"
SCRIPT = "Evening sessions, please <script>alert(1)</script>"
STANDARDS = (
    "Inclusive opportunities",
    "Working together",
    "Support and learning",
    "Governance",
    "Communications",
    "Impact",
)
GRIPP2 = ("Aim", "Methods", "Results", "Discussion and conclusions", "Reflections and critical perspective")
ORG_B_ONLY = ("Beta Voices Network", "Beta change", "Beta said", "99.0")


def _rows(org: str, *, own: bool) -> list[Any]:
    """org-a's hand-counted year (own=True), or org-b's rows under the very same ids."""
    registered = datetime(2024, 1, 1, tzinfo=UTC)

    def person(pid: str, role: str, consent: bool = True, erased: bool = False) -> Participant:
        return Participant(
            org_id=org,
            participant_id=pid,
            role=role,
            display_name=None if erased else f"Name of {pid}",
            consent_to_contact=consent,
            registered_at=registered,
            erased=erased,
        )

    def activity(aid: str, area: str, level: str, held_on: date) -> Activity:
        return Activity(
            org_id=org, activity_id=aid, title=aid, area=area, level=level, held_on=held_on, duration_hours=2
        )

    def attended(n: int, aid: str, pid: str, hours: float, day: date) -> Attendance:
        return Attendance(
            event_id=f"{org}-e{n}",
            org_id=org,
            activity_id=aid,
            participant_id=pid,
            hours=hours,
            session_role="attendee",
            attended_on=day,
        )

    def said(cid: str, area: str, aid: str | None, day: date, text: str, *pids: str) -> list[Any]:
        row = Contribution(org_id=org, contribution_id=cid, activity_id=aid, area=area, text=text, made_on=day)
        return [row, *(ContributionParticipant(org_id=org, contribution_id=cid, participant_id=p) for p in pids)]

    def change(chid: str, area: str, title: str, status: str, recorded: date, decided: date | None) -> Change:
        return Change(
            org_id=org,
            change_id=chid,
            area=area,
            title=title,
            description=f"{title}, from next month.",
            status=status,
            recorded_on=recorded,
            decided_on=decided,
        )

    def link(chid: str, cid: str, strength: str) -> ChangeLink:
        return ChangeLink(org_id=org, change_id=chid, contribution_id=cid, strength=strength)

    if not own:  # org-b: the same ids, its own figures
        return [
            person("p1", "patient"),
            activity("a1", "research", "co_production", date(2025, 3, 10)),
            attended(1, "a1", "p1", 99.0, date(2025, 3, 10)),
            *said("c1", "research", "a1", date(2025, 3, 10), "Beta said this", "p1"),
            change("ch1", "research", "Beta change", "implemented", date(2025, 3, 20), date(2025, 4, 15)),
            link("ch1", "c1", "major"),
        ]
    march, june = date(2025, 3, 10), date(2025, 6, 5)
    return [
        *(person(f"p{n}", "service_user") for n in range(1, 6)),
        person("p6", "carer", consent=False),
        person("p7", "service_user", erased=True),
        activity("a0", "research", "consultation", date(2024, 11, 1)),
        activity("a1", "research", "co_production", march),
        activity("a2", "governance", "consultation", june),
        *(attended(n, "a1", f"p{n}", 2.0, march) for n in range(1, 6)),
        attended(6, "a2", "p1", 1.5, june),
        attended(7, "a2", "p6", 1.5, june),
        *said("c0", "research", None, date(2024, 12, 1), "Last year", "p1"),
        *said("c1", "research", "a1", march, SCRIPT, "p1"),
        *said("c2", "research", "a1", march, "Plain-English letters", "p2"),
        *said("c3", "governance", "a2", june, "Pay people for their time", "p6"),
        *said("c4", "research", None, date(2025, 4, 1), "Words of an erased person", "p7"),
        change("ch1", "research", "Panels moved to the evening", "implemented", date(2025, 3, 20), date(2025, 4, 15)),
        change("ch2", "governance", "A payment policy", "agreed", date(2025, 6, 10), date(2025, 7, 1)),
        change("ch3", "research", "Letters rewritten", "declined", date(2025, 3, 15), date(2025, 5, 1)),
        change("ch4", "research", "Large print", "proposed", date(2025, 8, 1), None),
        link("ch1", "c1", "major"),
        link("ch1", "c4", "minor"),
        link("ch2", "c3", "moderate"),
        link("ch3", "c2", "minor"),
        link("ch4", "c2", "moderate"),
        Feedback(
            event_id="f1",
            change_id="ch1",
            org_id=org,
            participant_id="p1",
            channel="email",
            sent_at=datetime(2025, 4, 20, 9, tzinfo=UTC),
        ),
        *(ProcessedEvent(event_id=f"ok{n}", org_id=org, type="activity.held", recorded_on=march) for n in range(3)),
        DeadLetter(
            event_id="bad1",
            org_id=org,
            type="session.attended",
            expectation="known activity",
            reason="…",
            event_json="{}",
            log_partition=0,
            log_offset=9,
            recorded_on=march,
            dead_at=datetime(2025, 3, 10, tzinfo=UTC),
            resolved_by="ok2",
        ),
    ]


@pytest.fixture
def client_of(engine: Engine, tmp_path: Path) -> Callable[[str | None], FlaskClient]:
    """`client_of(org_id)`: a client signed in as that organisation's leadership (None: signed out)."""
    with Session(engine) as session:
        session.add_all(_rows("org-a", own=True) + _rows("org-b", own=False))
        for org_id, name in (("org-a", "Alpha Carers Forum"), ("org-b", "Beta Voices Network")):
            create_organisation(session=session, org_id=org_id, name=name)
            create_account(
                session=session,
                org_id=org_id,
                email=f"lead@{org_id}.example.org",
                name="Lead",
                role=Role.leadership,
                password=PASSWORD,
            )  # one account each: hashing a password takes a while
        session.commit()
    settings = Settings(env=Environment.test, secret_key="t" * 40, data_dir=tmp_path / "var")
    server = create_app(settings, engine).server

    def client(org_id: str | None) -> FlaskClient:
        signed = server.test_client()
        if org_id is not None:
            sign_in(signed, f"lead@{org_id}.example.org")
        return signed

    return client


class ReportPage(HTMLParser):
    """The parts of the report a reader sees: headings, and per section its figures, tables and text."""

    def __init__(self, html: str) -> None:
        super().__init__()
        self.h1: list[str] = []
        self.h2: list[str] = []
        self.figures: dict[str, dict[str, str]] = defaultdict(dict)  # section id -> label -> value
        self.tables: dict[str, list[list[str]]] = {}  # caption -> body rows
        self.text: dict[str, str] = defaultdict(str)  # section id -> all its text
        self.section = ""
        self.capture: list[str] | None = None
        self.dt = self.caption = ""
        self.row: list[str] = []
        self.in_body = False
        self.feed(html)

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        if tag == "section":
            self.section = dict(attrs).get("id") or ""
        elif tag == "tbody":
            self.in_body = True
        elif tag in {"h1", "h2", "dt", "dd", "caption", "th", "td"}:
            self.capture = []

    def handle_data(self, data: str) -> None:
        self.text[self.section] += data
        if self.capture is not None:
            self.capture.append(data)

    def handle_endtag(self, tag: str) -> None:
        value = " ".join("".join(self.capture or []).split())
        if tag == "h1":
            self.h1.append(value)
        elif tag == "h2":
            self.h2.append(value)
        elif tag == "dt":
            self.dt = value
        elif tag == "dd":
            self.figures[self.section][self.dt] = value
        elif tag == "caption":
            self.caption = value
            self.tables[value] = []
        elif tag in {"th", "td"} and self.in_body:
            self.row.append(value)
        elif tag == "tr" and self.in_body:
            self.tables[self.caption].append(self.row)
            self.row = []
        elif tag == "tbody":
            self.in_body = False
        elif tag == "section":
            self.section = ""
        if tag in {"h1", "h2", "dt", "dd", "caption", "th", "td"}:
            self.capture = None


def get_report(client: FlaskClient, path: str = YEAR) -> tuple[str, ReportPage]:
    response = client.get(path)
    assert response.status_code == 200, response.get_data(as_text=True)[:500]
    assert response.headers["Cache-Control"] == "no-store"  # an organisation's figures: never in a shared cache
    html = response.get_data(as_text=True)
    return html, ReportPage(html)


def test_the_report_fills_each_standard_and_gripp2_section_with_the_hand_counted_figures(
    client_of: Callable[[str | None], FlaskClient],
) -> None:
    html, page = get_report(client_of("org-a"))

    assert page.h1 == ["Annual involvement report: Alpha Carers Forum"]
    assert "1 Jan 2025 to 31 Dec 2025, all areas, all levels" in html
    assert [h2.split(": ", 1)[1] for h2 in page.h2] == [*STANDARDS, *GRIPP2]
    assert '<html lang="en-GB">' in html
    assert '<button type="button" class="button" id="print-report" hidden>Print or save as PDF</button>' in html
    assert "/static/report.js" in html and "/static/report.css" in html
    assert 'href="/?from=2025-01-01&amp;to=2025-12-31">Back to the dashboard' in html

    assert page.figures["inclusive-opportunities"] == {
        "People involved": "7",
        # 6 new and 1 returning of 7: 1 person was involved before, so neither is shown
        "New to involvement": "not shown",
        "Involved in two or more months": "not shown",
        "Activity areas with involvement": "2 of 16",
    }
    assert page.tables["People involved by role"] == [
        ["Service user", "5"],
        ["Carer", "not shown"],  # as on the People page
        ["Erased (asked us to delete their details)", "not shown"],
    ]
    assert page.figures["working-together"] == {
        "Activities held": "2",
        "Attendances": "7",
        "Hours of involvement": "13.0",
        "Contributions": "4",
    }
    assert page.tables["Activities by level of involvement"] == [
        ["Consultation", "1", "50%"],
        [label("co_production"), "1", "50%"],
        [label("user_led"), "0", "0%"],
    ]
    assert page.tables["Involvement by activity area (areas with any involvement or change)"] == [
        ["Governance", "fewer than 5", "1", "3.0", "1", "1"],
        ["Research", "6", "1", "10.0", "3", "3"],
    ]
    months = page.tables["Involvement month by month"]
    assert len(months) == 12
    assert months[2] == ["Mar 2025", "5", "10.0", "2", "0"]  # no attendances column (see dashboard/report/sections.py)
    assert months[5][:4] == ["Jun 2025", "fewer than 5", "3.0", "1"]
    assert "does not record training or support offered" in page.text["support-and-learning"]
    assert page.tables["Involvement in governance and in strategy, policy and planning"] == [
        ["Governance", "fewer than 5", "1", "1", "1"],
        ["Strategy, policy and planning", "0", "0", "0", "0"],
    ]
    assert page.figures["communications"] == {
        "Feedback closure rate": "not shown",  # 1 of 2: it would tell that one person was not told
        "Told what came of what they said": "not shown",
        "Owed a summary, not yet sent": "not shown",
        "Median days from decision to summary": "not shown",  # over one summary
    }
    assert page.figures["impact"] == {
        "Contributions": "4",
        "Linked to an agreed or implemented change": "3",
        "Influence rate": "75%",
        "Median days from contribution to decision": "31",
    }
    assert page.tables["Changes influenced by contributions, by status"] == [
        ["Proposed", "1"],
        ["Agreed", "1"],
        ["Implemented", "1"],
        ["Declined", "1"],
        ["All changes", "4"],
    ]
    assert "does not record the aim of involvement" in page.text["aim"]
    methods = " ".join(page.text["methods"].split())
    assert "7 people took part through 2 activities in 2 of the 16 activity areas" in methods
    assert "7 attendances (13.0 hours) and 4 contributions" in methods
    results = " ".join(page.text["results"].split())
    assert "1 implemented, 1 agreed, 1 declined and 1 still proposed" in results
    # you said, we did: ch2 (1 Jul) before ch1 (15 Apr); never the words of the erased p7
    assert results.index("A payment policy") < results.index("Panels moved to the evening")
    assert "“Pay people for their time”" in results and "Plain-English letters" not in results
    assert "Words of an erased person" not in html
    assert "&lt;script&gt;alert(1)&lt;/script&gt;" in html and "<script>alert" not in html
    discussion = " ".join(page.text["discussion"].split())
    assert "75% of the period's contributions (3 of 4)" in discussion
    assert "took 31 days (the median over 4 links)" in discussion
    assert page.tables["Strength of influence of contributions on changes decided in the period"] == [
        ["Minor", "2"],
        ["Moderate", "1"],
        ["Major", "1"],
    ]
    assert page.figures["reflections"] == {
        "Contributions not linked to an agreed or implemented change": "1",
        "Changes declined": "1",
        "Owed a summary, not yet sent": "not shown",
        "Records rejected by the data checks": "1 of 4",
    }
    assert "Of the 1 rejected record, 1 was since corrected." in " ".join(page.text["reflections"].split())
    for value in ORG_B_ONLY:
        assert value not in html
    assert "Name of p" not in html  # no names


def test_filters_change_the_figures_each_organisation_sees_its_own_and_visitors_sign_in_first(
    client_of: Callable[[str | None], FlaskClient],
) -> None:
    client = client_of("org-a")
    html, page = get_report(client, YEAR + "&level=co_production")  # a1 only: p1 to p5, c1, c2
    assert f"level: {label('co_production')}" in html
    assert page.figures["working-together"] == {
        "Activities held": "1",
        "Attendances": "5",
        "Hours of involvement": "10.0",
        "Contributions": "2",
    }
    assert page.figures["inclusive-opportunities"]["People involved"] == "5"
    assert "Panels moved to the evening" in html and "A payment policy" not in html  # ch2's link is at a2

    html, page = get_report(client, YEAR + "&area=governance")
    assert page.figures["inclusive-opportunities"]["People involved"] == "fewer than 5"  # p1, p6
    assert page.figures["impact"]["Influence rate"] == "100%"  # c3, linked to the agreed ch2
    assert "A payment policy" in html and "Panels moved to the evening" not in html

    html, page = get_report(client_of("org-b"))
    assert page.h1 == ["Annual involvement report: Beta Voices Network"]
    assert page.figures["working-together"]["Hours of involvement"] == "99.0"
    assert "Beta said this" in html
    for org_a_only in ("Alpha Carers Forum", "Panels moved", "Pay people", "alert(1)"):
        assert org_a_only not in html

    signed_out = client_of(None).get(YEAR)
    assert signed_out.status_code == 302
    assert signed_out.headers["Location"].startswith("/login?next=")
