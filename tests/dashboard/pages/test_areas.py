"""The Areas page: exact figures on the hand-counted story of influence_world.py."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date

import plotly.graph_objects as go
from sqlalchemy import Engine

from dashboard import charts
from dashboard.filters import Filters
from dashboard.pages import areas
from tests.dashboard.pages.influence_world import (
    AREA_LABELS,
    DASH,
    JUNE,
    LEVEL_KEYS,
    Q1,
    Q1_MONTHS,
    RESEARCH,
    USER_LED,
    area_rows,
    build,
    chart,
    rows,
    stats,
)


@dataclass(frozen=True)
class AreaCase:
    org_id: str
    filters: Filters
    columns: list[str]  # of the area-by-month table
    months: dict[str, list[str]]  # area -> its row of that table (after the area's name)
    idle: list[str]  # the row of every other area
    levels: list[str]  # the LEVEL_KEYS' values
    mix: dict[str, list[str]]  # area -> its row of the level-by-area table
    name: str


AREA_CASES = [
    AreaCase(
        "org-a",
        Q1,
        Q1_MONTHS,
        {"Research": ["2", "0", "1", "3"], "Governance": ["0", "1", "0", "1"], "Training": ["0", "0", "1", "1"]},
        ["0", "0", "0", "0"],
        ["5", "40%", "20%", "40%"],
        {
            "Research": ["1", "33%", "1", "33%", "1", "33%", "3"],
            "Governance": ["0", "0%", "0", "0%", "1", "100%", "1"],
            "Training": ["1", "100%", "0", "0%", "0", "0%", "1"],
        },
        name="q1",
    ),
    AreaCase(
        "org-a",
        RESEARCH,
        Q1_MONTHS,
        {"Research": ["2", "0", "1", "3"]},
        [DASH] * 4,
        ["3", "33%", "33%", "33%"],
        {"Research": ["1", "33%", "1", "33%", "1", "33%", "3"]},
        name="area-research",
    ),
    AreaCase(
        "org-a",
        USER_LED,
        Q1_MONTHS,
        {"Research": ["0", "0", "1", "1"], "Governance": ["0", "1", "0", "1"]},
        ["0", "0", "0", "0"],
        ["2", "0%", "0%", "100%"],
        {
            "Research": ["0", "0%", "0", "0%", "1", "100%", "1"],
            "Governance": ["0", "0%", "0", "0%", "1", "100%", "1"],
        },
        name="level-user-led",
    ),
    AreaCase(  # both ends inclusive: a6 on 31 Dec and a7 on 1 Apr count
        "org-a",
        Filters(date(2024, 12, 31), date(2025, 4, 1)),
        ["Area", "Dec 2024", "Jan 2025", "Feb 2025", "Mar 2025", "Apr 2025", "Total"],
        {
            "Research": ["1", "2", "0", "1", "1", "5"],
            "Governance": ["0", "0", "1", "0", "0", "1"],
            "Training": ["0", "0", "0", "1", "0", "1"],
        },
        ["0"] * 6,
        ["7", "57%", "14%", "29%"],
        {
            "Research": ["3", "60%", "1", "20%", "1", "20%", "5"],
            "Governance": ["0", "0%", "0", "0%", "1", "100%", "1"],
            "Training": ["1", "100%", "0", "0%", "0", "0%", "1"],
        },
        name="period-ends-inclusive",
    ),
    AreaCase(  # a1 (10 Jan) is before the start, a5 (31 Mar) after the end
        "org-a",
        Filters(date(2025, 1, 15), date(2025, 3, 30)),
        Q1_MONTHS,
        {"Research": ["1", "0", "1", "2"], "Governance": ["0", "1", "0", "1"]},
        ["0", "0", "0", "0"],
        ["3", "0%", "33%", "67%"],
        {
            "Research": ["0", "0%", "1", "50%", "1", "50%", "2"],
            "Governance": ["0", "0%", "0", "0%", "1", "100%", "1"],
        },
        name="months-clipped",
    ),
    AreaCase("org-a", JUNE, ["Area", "Jun 2025", "Total"], {}, ["0", "0"], ["0", DASH, DASH, DASH], {}, name="empty"),
    AreaCase(
        "org-b",
        Q1,
        Q1_MONTHS,
        {"Media": ["1", "1", "0", "2"]},
        ["0", "0", "0", "0"],
        ["2", "0%", "0%", "100%"],
        {"Media": ["0", "0%", "0", "0%", "2", "100%", "2"]},
        name="org-b-same-ids",
    ),
]


def test_areas_page(world: Engine) -> None:
    for case in AREA_CASES:
        page = build(world, areas, case.filters, case.org_id)

        table = page.table("area-months")
        assert table is not None and list(table.columns) == case.columns, case.name
        assert rows(page, "area-months") == area_rows(case.months, case.idle), case.name
        assert [stats(page)[key] for key in LEVEL_KEYS] == case.levels, case.name
        mix_idle = [DASH] * 7 if case.filters.area else ["0", DASH, "0", DASH, "0", DASH, "0"]
        assert rows(page, "level-by-area") == area_rows(case.mix, mix_idle), case.name


def test_areas_charts_draw_their_tables(world: Engine) -> None:
    page = build(world, areas, Q1)

    heatmap = chart(page, "area-months")
    [cells] = heatmap.figure.data
    assert cells.type == "heatmap" and cells.colorscale == go.Heatmap(colorscale="cividis").colorscale
    assert list(cells.x) == ["Jan 2025", "Feb 2025", "Mar 2025"]
    assert list(cells.y) == AREA_LABELS
    assert [list(row) for row in cells.z][12] == [2, 0, 1]  # Research
    assert sum(sum(row) for row in cells.z) == 5
    assert heatmap.summary == (
        "5 activities in 3 of 16 areas from Jan 2025 to Mar 2025; the most were in Research (3), "
        "and the busiest month was Jan 2025 (2)."
    )

    mix = chart(page, "level-mix")
    assert [(bar.name, bar.marker.color) for bar in mix.figure.data] == [
        ("Consultation", charts.LEVEL_COLOURS["consultation"]),
        ("Co-production", charts.LEVEL_COLOURS["co_production"]),
        ("User-led", charts.LEVEL_COLOURS["user_led"]),
    ]
    assert [bar.x[12] for bar in mix.figure.data] == [1, 1, 1]  # Research
    assert [bar.x[4] for bar in mix.figure.data] == [0, 0, 1]  # Governance
    assert mix.figure.layout.barmode == "stack"
    assert mix.summary == "Of 5 activities: 2 (40%) consultation, 1 (20%) co-production and 2 (40%) user-led."

    filtered = build(world, areas, RESEARCH)
    [cells] = chart(filtered, "area-months").figure.data
    assert [list(row) for row in cells.z][4] == [None, None, None]  # Governance: not counted, a gap and not a 0

    empty = build(world, areas, JUNE)
    assert chart(empty, "area-months").summary == "No activities were held from Jun 2025 to Jun 2025."
    assert (
        chart(empty, "level-mix").summary == "No activities were held in this period, so there is no level mix to show."
    )
