"""The dashboard's pages: each module builds a `Page` of plain data from the read models; `render` draws it.

A page module has `SLUG` (its path and the name of its CSV exports), `TITLE`, `INTRO` and
`build(conn, filters, org_id) -> Page`. Building reads only read models, through dashboard/metrics/__init__.py or
queries of its own, always for the signed-in reader's organisation. Everything a page shows is text in
a `Stat` or a `Table` (counts of people already suppressed), and every chart draws one of its tables,
so the text alternative, the CSV and the chart cannot disagree.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import Any, Protocol

import plotly.graph_objects as go
from sqlalchemy import Connection

from dashboard.filters import Filters
from dashboard.tables import Table


@dataclass(frozen=True)
class Stat:
    """One headline figure: its value as shown, and optionally its change against the previous period."""

    key: str
    label: str
    value: str
    note: str = ""
    change: str | None = None  # e.g. "up 12 from 40 in the previous period"


@dataclass(frozen=True)
class Chart:
    """A chart and the sentence that says what it shows; `table` is the key of the table beside it."""

    figure: go.Figure | dict[str, Any]  # a plain dict skips plotly's validation, several times faster
    summary: str
    table: str


@dataclass(frozen=True)
class Section:
    title: str
    key: str
    intro: str = ""
    stats: Sequence[Stat] = ()
    chart: Chart | None = None
    tables: Sequence[Table] = ()
    limit: int | None = None  # show at most this many rows of each table on screen (the CSV has all)


@dataclass(frozen=True)
class Page:
    sections: Sequence[Section]
    notices: Sequence[str] = field(default=())  # e.g. a benchmark not shown, and why

    def tables(self) -> list[Table]:
        return [table for section in self.sections for table in section.tables]

    def table(self, key: str) -> Table | None:
        return next((table for table in self.tables() if table.key == key), None)


class PageModule(Protocol):
    SLUG: str
    TITLE: str
    INTRO: str

    def build(self, conn: Connection, filters: Filters, org_id: str) -> Page: ...


@dataclass(frozen=True)
class PageSpec:
    slug: str
    title: str
    intro: str
    build: Callable[[Connection, Filters, str], Page]

    @property
    def path(self) -> str:
        return "/" if self.slug == "overview" else f"/{self.slug}"


def spec(module: Any) -> PageSpec:
    return PageSpec(slug=module.SLUG, title=module.TITLE, intro=module.INTRO, build=module.build)
