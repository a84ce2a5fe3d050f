"""Reading a CSV or .xlsx file into a Table, bounded.

One import reads at most MAX_ROWS lines after the header, MAX_COLUMNS wide, MAX_CELLS cells in all,
MAX_CELL_CHARS characters in a cell, for at most MAX_READ_SECONDS; a workbook is refused before it is
parsed if its zip unpacks to more than MAX_UNZIPPED_BYTES (MAX_PART_BYTES for one part,
MAX_SHARED_STRINGS_BYTES for its shared strings), has more than MAX_PARTS parts, a part packed more
than MAX_RATIO times, or a part that is encrypted or packed with a method other than stored or deflated.
docs/import.md states these limits.
"""

from __future__ import annotations

import csv
import hashlib
import io
import logging
import re
import time
import zipfile
from collections.abc import Generator, Iterable, Sequence
from contextlib import closing
from dataclasses import dataclass, field
from pathlib import PurePath
from typing import Any

from ingest.importing.cells import cell_text
from ingest.importing.columns import NAMES, REQUIRED, FileProblem, Kind

MAX_ROWS = 50_000
MAX_COLUMNS = 100  # a header wider than this is refused (the widest kind has 13 columns)
MAX_CELLS = 1_000_000  # header width x rows: 50,000 rows of the widest kind (13 columns) is 650,000
MAX_CELL_CHARS = 32_767  # Excel's own limit for one cell
MAX_READ_SECONDS = 30.0  # reading one file's rows stops here (a full 50,000-row workbook takes a few seconds)

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class Table:
    """A file's header (normalised names) and its non-blank rows, each with its line number.

    Rows hold at most as many cells as the header has headings. `strays` maps the line of a CSV row
    with a value to the right of the last heading to that value's column (1-based), so the row can be
    reported rather than silently cut short (an unquoted comma in a text shifts the rest of its row).
    """

    filename: str
    header: list[str]
    header_line: int
    rows: list[tuple[int, list[Any]]]
    digest: str  # sha256 of the file's bytes
    encoding: str | None  # the text encoding of a CSV file; None for Excel
    strays: dict[int, int] = field(default_factory=dict)


Lines = Generator[tuple[int, Sequence[Any]], None, None]


def _heading(value: Any) -> str:
    return re.sub(r"[\s\-]+", "_", cell_text(value).lower())


def _blank(cells: Sequence[Any]) -> bool:
    return all(cell_text(cell) == "" for cell in cells)


def _width(cells: Sequence[Any]) -> int:
    """How many cells up to and including the last one that is not blank."""
    for index in range(len(cells) - 1, -1, -1):
        if cell_text(cells[index]):
            return index + 1
    return 0


def _last_line(header_line: int | None) -> int:
    """The last line a file may use: MAX_ROWS lines after its header (blank lines count, so reading stops)."""
    return (header_line or 1) + MAX_ROWS


def _too_many(line_is_blank: bool, last: int) -> FileProblem:
    message = f"The file has more than {MAX_ROWS:,} rows: split it into several files."
    if line_is_blank:
        message += f" Rows below line {last:,} count too, even ones that look empty: delete any below your data."
    return FileProblem(message)


def _refuse_long_cell(line: int, cells: Sequence[Any]) -> None:
    for index, cell in enumerate(cells[: MAX_COLUMNS + 1]):
        if isinstance(cell, str) and len(cell) > MAX_CELL_CHARS:
            raise FileProblem(
                f"Line {line:,}: the cell in column {index + 1} holds more than {MAX_CELL_CHARS:,} characters, "
                "more than any cell may."
            )


def read_table(data: bytes, filename: str) -> Table:
    """Read a CSV (UTF-8 with or without BOM, else Windows-1252) or an .xlsx workbook's first sheet.

    Rows are read one at a time and reading stops at the first line past the limit (MAX_ROWS lines
    after the header), so a file that claims a million rows costs no more than one at the limit.
    """
    filename = PurePath(filename.replace("\\", "/")).name or "file"
    suffix = PurePath(filename).suffix.lower()
    if suffix == ".xls" or data.startswith(b"\xd0\xcf\x11\xe0"):
        raise FileProblem("Older Excel files (.xls) cannot be read: save it as an Excel workbook (.xlsx) or as CSV.")
    if not data.strip():
        raise FileProblem("The file is empty.")
    digest = hashlib.sha256(data).hexdigest()
    lines: Lines
    if suffix == ".xlsx" or data.startswith(b"PK\x03\x04"):
        lines, encoding = _xlsx_rows(data), None
    else:
        lines, encoding = _csv_rows(data)
    header: list[str] | None = None
    header_line = 0
    rows: list[tuple[int, list[Any]]] = []
    strays: dict[int, int] = {}
    cells_read = 0
    deadline = time.monotonic() + MAX_READ_SECONDS
    with closing(lines):
        for line, cells in lines:
            last = _last_line(header_line)
            if line > last:
                raise _too_many(_blank(cells), last)
            if time.monotonic() > deadline:
                raise FileProblem(
                    f"Reading the file took more than {MAX_READ_SECONDS:g} seconds, at line {line:,}: save it as "
                    "CSV, or split it into smaller files."
                )
            _refuse_long_cell(line, cells)
            if _blank(cells):
                continue
            if header is None:
                header, header_line = [_heading(cell) for cell in cells[: _width(cells)]], line
                if len(header) > MAX_COLUMNS:
                    raise FileProblem(
                        f"Line {line}: the header row has more than {MAX_COLUMNS} columns; a file needs at most "
                        f"{max(len(names) for names in NAMES.values())}: keep only the columns listed for its kind."
                    )
                continue
            width = len(header)
            cells_read += width
            if cells_read > MAX_CELLS:
                raise FileProblem(
                    f"The file has more than {MAX_CELLS:,} cells (its rows times the {width} columns of its header): "
                    "keep only the columns listed for its kind, or split it into several files."
                )
            stray = next((index + 1 for index in range(width, len(cells)) if cell_text(cells[index])), None)
            if stray:
                strays[line] = stray
            rows.append((line, list(cells[:width])))
    if header is None:
        raise FileProblem("The file is empty.")
    return Table(filename, header, header_line, rows, digest, encoding, strays)


def _csv_rows(data: bytes) -> tuple[Lines, str]:
    try:
        content, encoding = data.decode("utf-8-sig"), "UTF-8"
    except UnicodeDecodeError:
        try:
            content, encoding = data.decode("cp1252"), "Windows-1252"
        except UnicodeDecodeError as exc:
            raise FileProblem("The file's text could not be read: save it as CSV UTF-8 and try again.") from exc
    if "\x00" in content:
        raise FileProblem("This does not look like a CSV file: save it as CSV UTF-8 or as an Excel workbook (.xlsx).")
    first = content.split("\n", 1)[0]
    delimiter = ","
    if "," not in first:
        delimiter = ";" if ";" in first else ("\t" if "\t" in first else ",")
    reader = csv.reader(io.StringIO(content, newline=""), delimiter=delimiter)

    def rows() -> Lines:
        try:
            yield from enumerate(reader, start=1)
        except csv.Error as exc:
            raise FileProblem(f"Line {reader.line_num}: the CSV could not be read ({exc}).") from exc

    return rows(), encoding


MAX_UNZIPPED_BYTES = 50 * 1024 * 1024  # all of a workbook's parts unpacked; a full 50,000-row file is ~25 MB
MAX_PART_BYTES = 40 * 1024 * 1024  # any one part unpacked
MAX_SHARED_STRINGS_BYTES = 20 * 1024 * 1024  # xl/sharedStrings.xml, which openpyxl holds in memory whole
MAX_PARTS = 500  # a workbook with one sheet has about a dozen
MAX_RATIO = 200  # unpacked / packed size of a part over 1 MB; real sheets pack 5-30 times, a zip bomb ~1000
SUPPORTED_COMPRESSION = (zipfile.ZIP_STORED, zipfile.ZIP_DEFLATED)
UNREADABLE = "The file could not be read as an Excel workbook (.xlsx): save it again, or as CSV."


def _mb(size: int) -> str:
    return f"{size / 1048576:g} MB"


def _refuse_zip_bomb(data: bytes) -> None:
    """Inspect the workbook's zip before anything is unpacked: refuse it with a sentence naming the limit.

    The sizes are the ones its directory declares; zipfile never unpacks more than a part declares, so
    they bound what parsing can cost.
    """
    try:
        with zipfile.ZipFile(io.BytesIO(data)) as archive:
            parts = archive.infolist()
    except (zipfile.BadZipFile, zipfile.LargeZipFile, ValueError, OSError, EOFError) as exc:
        raise FileProblem(UNREADABLE) from exc
    if len(parts) > MAX_PARTS:
        raise FileProblem(f"The workbook has more than {MAX_PARTS} parts, more than any workbook needs: {_AGAIN}")
    for part in parts:
        if part.flag_bits & 0x1:
            raise FileProblem("The workbook is protected with a password: save a copy without one, or as CSV.")
        if part.compress_type not in SUPPORTED_COMPRESSION:
            raise FileProblem(f"The workbook is packed in a way Excel does not write: {_AGAIN}")
        if part.file_size > MAX_PART_BYTES:
            raise FileProblem(f"A part of the workbook unpacks to more than {_mb(MAX_PART_BYTES)}: {_SPLIT}")
        if part.filename.lower().endswith("sharedstrings.xml") and part.file_size > MAX_SHARED_STRINGS_BYTES:
            raise FileProblem(f"The workbook's text unpacks to more than {_mb(MAX_SHARED_STRINGS_BYTES)}: {_SPLIT}")
        if part.file_size > 1048576 and part.file_size > MAX_RATIO * max(part.compress_size, 1):
            raise FileProblem(
                f"A part of the workbook unpacks to more than {MAX_RATIO} times its packed size, which real "
                f"workbooks never do: {_AGAIN}"
            )
    unpacked = sum(part.file_size for part in parts)
    if unpacked > MAX_UNZIPPED_BYTES:
        raise FileProblem(f"The workbook unpacks to more than {_mb(MAX_UNZIPPED_BYTES)}: {_SPLIT}")


_AGAIN = "save it again from Excel, or as CSV."
_SPLIT = "save it as CSV, or split it into smaller files."


def _xlsx_rows(data: bytes) -> Lines:
    """The first sheet's rows, read lazily and never wider than the header.

    openpyxl pads every row to the width the sheet's <dimension> claims and fills any gap in the row
    numbers with empty rows, so one cell at XFD1048576 would cost a billion cells. Here the header is
    looked for in the first MAX_COLUMNS + 1 columns, each later row is read only as wide as the header
    (cells to the right of its last heading have no column to go in, and are not read), and `max_row`
    stops openpyxl one line past the limit, so read_table refuses the file before any gap is filled.
    """
    from openpyxl import load_workbook
    from openpyxl.utils.exceptions import InvalidFileException

    _refuse_zip_bomb(data)
    try:
        workbook = load_workbook(io.BytesIO(data), read_only=True, data_only=True)
    except (InvalidFileException, zipfile.BadZipFile, KeyError, OSError, ValueError) as exc:
        raise FileProblem(UNREADABLE) from exc
    except Exception as exc:  # malformed XML in any part, a damaged packed stream, ...: a client's bad file
        log.info("unreadable workbook: %r", exc)
        raise FileProblem(UNREADABLE) from exc

    def rows() -> Lines:
        try:
            sheet = workbook.worksheets[0]
            header_line, width = 0, 0
            search = sheet.iter_rows(values_only=True, max_col=MAX_COLUMNS + 1, max_row=_last_line(None) + 1)
            with closing(search):
                for line, cells in enumerate(search, start=1):
                    yield line, cells
                    if not _blank(cells):
                        header_line, width = line, _width(cells)
                        break
            if not header_line:
                return
            below = sheet.iter_rows(
                values_only=True, min_row=header_line + 1, max_col=width, max_row=_last_line(header_line) + 1
            )
            with closing(below):
                yield from enumerate(below, start=header_line + 1)
        except Exception as exc:  # a damaged sheet raises whatever its parser meets
            raise FileProblem("The workbook's first sheet could not be read: save it again, or as CSV.") from exc
        finally:
            workbook.close()

    return rows()


def detect_kind(header: Iterable[str]) -> Kind:
    """The kind whose required columns the header has; a FileProblem if none or several fit."""
    names = set(header) - {""}
    fits = [kind for kind in Kind if REQUIRED[kind] <= names]
    if len(fits) > 1:
        exact = [kind for kind in fits if names <= set(NAMES[kind])]
        if len(exact) == 1:
            return exact[0]
        kinds = " and ".join(k.value for k in fits)
        raise FileProblem(f"The headings in line 1 fit more than one kind of file ({kinds}): choose the kind.")
    if not fits:
        raise FileProblem(
            "Could not tell from the headings in line 1 what the file holds: choose the kind, or start from a "
            "template. Participants need display_name and role; attendance needs activity_id and participant_id; "
            "contributions need participant_ids, area, date and text."
        )
    return fits[0]
