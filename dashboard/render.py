"""A `Page` drawn as Dash components: headline cards, then each section's chart with its table beside it."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from dash import dcc, html

from dashboard import charts, tables
from dashboard.filters import Filters
from dashboard.pages import Page, PageSpec, Section, Stat


def csv_href(prefix: str, slug: str, key: str, filters: Filters) -> str:
    """Where a table's CSV downloads from, for the same filters as the page."""
    return f"{prefix}export/{slug}/{key}.csv{filters.search()}"


def heading(title: str, intro: str) -> list[Any]:
    """The top of the main region, above the filters: the page's one h1 and what the page is for."""
    return [html.H1(title, id="page-title", tabIndex="-1"), html.P(intro, className="lead")]


def page(spec: PageSpec, built: Page, filters: Filters, prefix: str) -> list[Any]:
    """The main region under the filters: what they are, any notices, then the sections."""
    notices = [*filters.problems, *built.notices]
    parts: list[Any] = [
        html.P(["Showing ", html.Strong(filters.describe()), "."], className="scope", id="scope"),
    ]
    if notices:
        parts.append(html.Div([html.P(notice) for notice in notices], className="notice", role="status"))
    parts.extend(_section(spec, section, filters, prefix) for section in built.sections)
    return parts


def _section(spec: PageSpec, section: Section, filters: Filters, prefix: str) -> html.Section:
    heading_id = f"{section.key}-heading"
    parts: list[Any] = [html.H2(section.title, id=heading_id)]
    if section.intro:
        parts.append(html.P(section.intro, className="note"))
    if section.stats:
        parts.append(stats(section.stats))
    if section.chart is not None:
        summary_id = f"{section.key}-summary"
        parts.append(
            html.Figure(
                [
                    # the chart's SVG is one image to assistive technology, named by its summary; the
                    # caption says the same, and the table beside it gives every figure as text
                    html.Div(
                        dcc.Graph(id=f"{section.key}-chart", figure=section.chart.figure, config=charts.CONFIG),
                        role="img",
                        # at 320 px a chart keeps a readable width and scrolls inside itself: keyboard users
                        # reach it to scroll it (WCAG 2.1.1; axe "scrollable-region-focusable")
                        tabIndex="0",
                        **tables.aria(label=section.chart.summary),
                    ),
                    html.Figcaption(
                        [section.chart.summary, " The table below gives the same figures as text."], id=summary_id
                    ),
                ],
                className="chart",
            )
        )
    for table in section.tables:
        parts.append(tables.render(table, csv_href(prefix, spec.slug, table.key, filters), limit=section.limit))
    return html.Section(parts, className="page-section", **tables.aria(labelledby=heading_id))


def stats(items: Sequence[Stat]) -> html.Dl:
    cards = []
    for stat in items:
        parts = [html.Dt(stat.label), html.Dd(stat.value, id=stat.key, className="figure-value")]
        if stat.change:
            parts.append(html.Dd(stat.change, id=f"{stat.key}-change", className="change"))
        if stat.note:
            parts.append(html.Dd(stat.note, className="note"))
        cards.append(html.Div(parts, className="figure"))
    return html.Dl(cards, className="figures")
