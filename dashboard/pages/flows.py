"""The Influence page's flows: links from what people spoke about, through the strength of their influence, to
the changes by status (a Sankey diagram, its table and its sentence). Pure: links in, table and figure out."""

from __future__ import annotations

from collections import Counter
from collections.abc import Iterable, Sequence
from typing import Protocol

import plotly.graph_objects as go

from dashboard import charts
from dashboard.formatting import counted, format_count
from dashboard.metrics import AREAS, STATUSES
from dashboard.tables import Table
from schemas.vocab import Strength, label

STRENGTHS: tuple[str, ...] = (Strength.major.value, Strength.moderate.value, Strength.minor.value)  # strongest first
STRENGTH_COLOUR = charts.PURPLE
AREA_COLOUR = charts.SKY


class Flow(Protocol):
    """One (contribution, change) link, as the Influence page reads it."""

    @property
    def contribution_area(self) -> str: ...
    @property
    def strength(self) -> str: ...
    @property
    def status(self) -> str: ...
    @property
    def change_id(self) -> str: ...


def _in_order(present: Iterable[str], order: Sequence[str]) -> list[str]:
    """The labels present, in the order given, then any other alphabetically."""
    found = set(present)
    return [name for name in order if name in found] + sorted(found - set(order))


def strength_rank(strength: str) -> int:
    """Where a strength stands, strongest first (an unknown one last)."""
    return STRENGTHS.index(strength) if strength in STRENGTHS else len(STRENGTHS)


def flow_table(links: Sequence[Flow]) -> Table:
    """One row per (contribution area, strength, status) with its number of links, in vocabulary order."""
    counts = Counter((link.contribution_area, link.strength, link.status) for link in links)
    areas = {area: index for index, area in enumerate(_in_order((a for a, _, _ in counts), AREAS))}
    statuses = {status: index for index, status in enumerate(_in_order((s for _, _, s in counts), STATUSES))}
    keys = sorted(counts, key=lambda key: (areas[key[0]], strength_rank(key[1]), key[1], statuses[key[2]]))
    return Table(
        key="flows",
        caption="Links from contributions to changes, by area, strength of influence and status",
        columns=("Area of the contribution", "Strength of influence", "Status of the change", "Links"),
        rows=[
            [label(area), label(strength), label(status), format_count(counts[area, strength, status])]
            for area, strength, status in keys
        ],
        numeric=(3,),
        note="A link is one contribution behind one change; these are not counts of people.",
    )


def _rgba(colour: str, alpha: float) -> str:
    red, green, blue = (int(colour[index : index + 2], 16) for index in (1, 3, 5))
    return f"rgba({red}, {green}, {blue}, {alpha})"


def sankey_figure(flows: Table) -> go.Figure:
    """The flows table drawn as areas -> strengths -> statuses: each row feeds both stages."""
    area_to_strength: Counter[tuple[str, str]] = Counter()
    strength_to_status: Counter[tuple[str, str]] = Counter()
    for area, strength, status, links in flows.rows:
        count = int(links.replace(",", ""))
        area_to_strength[area, strength] += count
        strength_to_status[strength, status] += count
    areas = _in_order((area for area, _ in area_to_strength), [label(area) for area in AREAS])
    strengths = _in_order((strength for strength, _ in strength_to_status), [label(s) for s in STRENGTHS])
    statuses = _in_order((status for _, status in strength_to_status), [label(status) for status in STATUSES])
    # nodes are numbered column by column, so a name in two columns is still two nodes
    keys = [(column, name) for column, names in enumerate((areas, strengths, statuses)) for name in names]
    node = {key: number for number, key in enumerate(keys)}
    status_colours = {label(status): colour for status, colour in charts.STATUS_COLOURS.items()}
    stages = [
        ((0, area), (1, strength), count, STRENGTH_COLOUR) for (area, strength), count in area_to_strength.items()
    ] + [
        ((1, strength), (2, status), count, status_colours.get(status, charts.GREY))
        for (strength, status), count in strength_to_status.items()
    ]
    figure = go.Figure(
        go.Sankey(
            arrangement="snap",
            node={
                "label": [*areas, *(f"{strength} influence" for strength in strengths), *statuses],
                "color": [AREA_COLOUR] * len(areas)
                + [STRENGTH_COLOUR] * len(strengths)
                + [status_colours.get(status, charts.GREY) for status in statuses],
                "pad": 18,
                "thickness": 18,
                "line": {"color": charts.TEXT, "width": 0.5},
                "hovertemplate": "%{label}: %{value:,} links<extra></extra>",
            },
            link={
                "source": [node[source] for source, _, _, _ in stages],
                "target": [node[target] for _, target, _, _ in stages],
                "value": [count for _, _, count, _ in stages],
                "color": [_rgba(colour, 0.35) for _, _, _, colour in stages],
                "hovertemplate": "%{source.label} to %{target.label}: %{value:,} links<extra></extra>",
            },
        )
    )
    rows = max(len(areas), len(statuses), 1)
    return charts.styled(figure, height=max(360, 28 * rows + 120), legend=False)


def sankey_summary(links: Sequence[Flow]) -> str:
    if not links:
        return "No contribution was linked to a change counted in this period."
    by_area = Counter(link.contribution_area for link in links)
    top_area = max(_in_order(by_area, AREAS), key=lambda area: by_area[area])  # a tie goes to the first area
    major = sum(1 for link in links if link.strength == Strength.major.value)
    changes = len({link.change_id for link in links})
    joins = "joins" if len(links) == 1 else "join"
    return (
        f"{counted(len(links), 'link')} {joins} contributions in {counted(len(by_area), 'area')} to "
        f"{counted(changes, 'change')}; the most came from {label(top_area)} ({format_count(by_area[top_area])}), and "
        f"{format_count(major)} {'was' if major == 1 else 'were'} of major influence."
    )
