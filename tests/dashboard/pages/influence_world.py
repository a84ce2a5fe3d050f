"""The story the Influence and Areas pages are tested on (the `world` fixture of conftest.py), and helpers.

The story (rows inserted straight into the read models; the period of most cases is Q1 2025):

    activities (org-a)                       contributions (org-a)  [participants]  activity  text
      a1 2025-01-10 research   consultation    c1 01-10 research    [p1]      a1  "The leaflet is too long to read."
      a2 2025-01-20 research   co_production   c2 01-20 research    [p2 p3]   a2  "Our letters come too late." x 12
      a3 2025-02-05 governance user_led        c3 02-05 governance  [p4]      a3  "Carers should sit on the board."
      a4 2025-03-15 research   user_led        c4 2024-11-01 complaints [p5]  -   "Complaints take months to answer."
      a5 2025-03-31 training   consultation    c5 03-15 research    [p6]      a4  "Daytime meetings exclude people…"
      a6 2024-12-31 research   consultation    c6 02-10 support     [p1]      -   "A text the day before would help."
      a7 2025-04-01 research   consultation    c7 01-25 research    [p7]      a2  "Put the main point first."

    changes (org-a)                                    links (strength: days to the decision)
      ch1 research   implemented 01-15 -> 02-01      c1 major: 22, c2 moderate: 12, c7 moderate: 7, c4 minor: 92
      ch2 governance agreed      02-06 -> 03-10      c3 major: 33
      ch3 research   proposed    03-20               c5 moderate
      ch4 complaints declined    01-05 -> 01-06      c4 moderate: 66
      ch5 support    implemented 2024-12-01 -> 2024-12-20 (before Q1)   c4 major
      ch6 training   implemented 02-10 -> 03-20      no links: never "influenced"
      ch7 support    agreed      02-01 -> 02-01      c6 minor: -9 (linked to a contribution made after the decision)
      ch8 research   proposed    2024-12-10 (recorded before Q1)        c1 minor

org-b reuses the ids a1, a2, c1 and ch1: a1 2025-01-10 and a2 2025-02-01 (media, user_led); c1 2025-01-10 (media, a1,
[p1], "ORG B SECRET"); ch1 "Org B change" (media) implemented 01-05 -> 02-01, linked to c1 (major). A join on an id
without org_id would mix them into org-a's figures.

In Q1, org-a's changes counted are ch1, ch2, ch4, ch7 (decided) and ch3 (proposed): 8 links. The decided links'
days are -9, 7, 12, 22, 33, 66, 92 (median 22); behind them c1, c2, c3, c4, c6, c7 by p1, p2, p3, p4, p5, p7 (6).
"""

from __future__ import annotations

from datetime import date
from typing import Any

from sqlalchemy import Engine

from dashboard.filters import Filters
from dashboard.pages import Page

LETTERS = "Our letters come too late.\n" * 12
# on one line, cut at the last space within 140 characters ("Our l|etters": 5 x 27 + 5), an ellipsis added
LETTERS_SHOWN = "“" + "Our letters come too late. " * 5 + "Our…”"


Q1 = Filters(date(2025, 1, 1), date(2025, 3, 31))
JUNE = Filters(date(2025, 6, 1), date(2025, 6, 30))
RESEARCH = Filters(Q1.start, Q1.end, area="research")
CO_PRODUCTION = Filters(Q1.start, Q1.end, level="co_production")
USER_LED = Filters(Q1.start, Q1.end, level="user_led")


def build(engine: Engine, module: Any, filters: Filters, org_id: str = "org-a") -> Page:
    with engine.connect() as conn:
        page: Page = module.build(conn, filters, org_id)
    return page


def stats(page: Page) -> dict[str, str]:
    return {stat.key: stat.value for section in page.sections for stat in section.stats}


def rows(page: Page, key: str) -> list[list[str]]:
    table = page.table(key)
    assert table is not None, key
    return [list(row) for row in table.rows]


def chart(page: Page, key: str) -> Any:
    [section] = [section for section in page.sections if section.key == key]
    assert section.chart is not None
    return section.chart


CH1 = [
    "Shorter leaflet",
    "Research",
    "Implemented",
    "15 Jan 2025",
    "1 Feb 2025",
    "4",
    "Major",
    "92",  # from c4 (1 Nov 2024), the earliest contribution behind it
    f"“The leaflet is too long to read.”; {LETTERS_SHOWN}; “Put the main point first.”; and 1 more",
]
CH2 = [
    "Board seat for a carer",
    "Governance",
    "Agreed",
    "6 Feb 2025",
    "10 Mar 2025",
    "1",
    "Major",
    "33",
    "“Carers should sit on the board.”",
]
CH3 = [
    "Evening sessions",
    "Research",
    "Proposed",
    "20 Mar 2025",
    "—",
    "1",
    "Moderate",
    "—",
    "“Daytime meetings exclude people who work.”",
]
CH4 = [
    "Reply within 10 days",
    "Complaints and comments",
    "Declined",
    "5 Jan 2025",
    "6 Jan 2025",
    "1",
    "Moderate",
    "66",
    "“Complaints take months to answer.”",
]
CH7 = [
    "Text reminders",
    "Support",
    "Agreed",
    "1 Feb 2025",
    "1 Feb 2025",
    "1",
    "Minor",
    "-9",
    "“A text the day before would help.”",
]
BANDS = ["0 to 7 days", "8 to 30 days", "31 to 90 days", "91 to 180 days", "Over 180 days"]
NO_DAYS = [[band, "0", "—"] for band in BANDS]
STAT_KEYS = [
    "changes-decided",
    "changes-agreed",
    "changes-implemented",
    "changes-declined",
    "changes-proposed",
    "contributions-behind",
    "people-behind",
    "days-to-change",
]


AREA_LABELS = [
    "Campaigning",
    "Complaints and comments",
    "Conferences and events",
    "Fundraising",
    "Governance",
    "Impact",
    "Involvement",
    "Media",
    "Promoting diversity",
    "Publications",
    "PR and marketing",
    "Recruitment and selection",
    "Research",
    "Strategy, policy and planning",
    "Support",
    "Training",
]
LEVEL_KEYS = ["activities-held", "level-consultation", "level-co_production", "level-user_led"]
Q1_MONTHS = ["Area", "Jan 2025", "Feb 2025", "Mar 2025", "Total"]
DASH = "—"


def area_rows(wanted: dict[str, list[str]], idle: list[str]) -> list[list[str]]:
    """Every area's expected row: the wanted ones as given, every other one `idle`."""
    return [[name, *wanted.get(name, idle)] for name in AREA_LABELS]
