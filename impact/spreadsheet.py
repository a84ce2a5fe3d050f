"""CSV that is safe to open in a spreadsheet: a cell that would start a formula is written as text."""

from __future__ import annotations

import csv
import io
from collections.abc import Iterable, Sequence

FORMULA_STARTS = ("=", "+", "-", "@", "\t", "\r")


def safe_cell(value: str) -> str:
    """`=HYPERLINK(…)` -> `'=HYPERLINK(…)`; numbers such as -3 or +4.5% stay numbers."""
    if value.startswith(FORMULA_STARTS) and not _is_number(value):
        return "'" + value
    return value


def _is_number(value: str) -> bool:
    try:
        float(value.replace(",", "").rstrip("%"))
    except ValueError:
        return False
    return True


def to_csv(rows: Iterable[Sequence[object]]) -> str:
    """Rows as CSV text (CRLF line ends), every cell made safe."""
    buffer = io.StringIO()
    writer = csv.writer(buffer, lineterminator="\r\n")
    for row in rows:
        writer.writerow([safe_cell("" if value is None else str(value)) for value in row])
    return buffer.getvalue()
