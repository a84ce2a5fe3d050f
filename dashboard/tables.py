"""Tables: every figure a page shows is in one, beside its chart, and each downloads as CSV.

A page builds `Table`s of display-ready text (counts of people already suppressed), and the same
table is rendered as HTML and exported as CSV, so the screen and the export can never disagree, nor
leak a small count one of them hid.
"""

from __future__ import annotations

import csv
import io
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from dash import html

from impact.spreadsheet import safe_cell

# A cell a spreadsheet would read as a formula (=, +, -, @, or a tab or carriage return first) is
# written with a leading apostrophe, which spreadsheets show as text ("CSV injection").


@dataclass(frozen=True)
class Table:
    """One table of a page: `key` names its CSV; the first column heads each row; `numeric` columns align right."""

    key: str
    caption: str
    columns: Sequence[str]
    rows: Sequence[Sequence[str]]
    numeric: Sequence[int] = ()  # indexes of columns holding numbers
    text: Sequence[int] = ()  # indexes of columns holding sentences: given room to be read
    note: str | None = None  # shown under the caption, e.g. what "fewer than 5" means

    def __post_init__(self) -> None:
        for row in self.rows:
            if len(row) != len(self.columns):
                raise ValueError(f"table {self.key!r}: a row has {len(row)} cells for {len(self.columns)} columns")


def to_csv(table: Table, described: str) -> str:
    """The table as CSV (a title line saying what it shows, then a header row), safe to open in a spreadsheet."""
    buffer = io.StringIO()
    writer = csv.writer(buffer, lineterminator="\r\n")
    writer.writerow([safe_cell(f"{table.caption} ({described})")])
    writer.writerow([safe_cell(column) for column in table.columns])
    for row in table.rows:
        writer.writerow([safe_cell(value) for value in row])
    return buffer.getvalue()


def _kind(table: Table, index: int) -> str | None:
    if index in table.numeric:
        return "numeric"
    return "text" if index in table.text else None


def aria(**attributes: str) -> dict[str, Any]:
    """ARIA attributes as keyword arguments for Dash components, which take them only by hyphenated names."""
    return {f"aria-{name}": value for name, value in attributes.items()}


def render(table: Table, csv_href: str | None = None, *, limit: int | None = None) -> html.Div:
    """The table as HTML in a scrollable, keyboard-reachable region, with its CSV link under it.

    `limit` shows the first rows only, and says so; the CSV always has them all.
    """
    caption_id = f"{table.key}-caption"
    rows = table.rows if limit is None else table.rows[:limit]
    body = [
        html.Tr(
            [
                html.Th(row[0], scope="row"),
                *(html.Td(value, className=_kind(table, index)) for index, value in enumerate(row[1:], start=1)),
            ]
        )
        for row in rows
    ]
    if not body:
        body = [html.Tr(html.Td("Nothing was recorded for these filters.", colSpan=len(table.columns)))]
    head = html.Thead(
        html.Tr(
            [html.Th(column, scope="col", className=_kind(table, index)) for index, column in enumerate(table.columns)]
        )
    )
    parts: list[Any] = [
        html.Div(
            html.Table([html.Caption(table.caption, id=caption_id), head, html.Tbody(body)], id=f"{table.key}-table"),
            className="table-scroll",
            tabIndex="0",  # lets keyboard users scroll a table wider than the screen
            role="region",
            **aria(labelledby=caption_id),
        )
    ]
    after: list[Any] = []
    if table.note:
        after.append(html.P(table.note, className="note"))
    if limit is not None and len(table.rows) > limit:
        after.append(
            html.P(f"Showing the first {limit:,} of {len(table.rows):,} rows; the CSV has them all.", className="note")
        )
    if csv_href is not None:
        after.append(
            html.P(
                html.A(
                    [f"Download “{table.caption}” as CSV"],
                    href=csv_href,
                    download=f"{table.key}.csv",
                    className="download",
                    id=f"{table.key}-csv",
                )
            )
        )
    return html.Div(parts + after, className="data-table")
