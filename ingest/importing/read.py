"""Reading a CSV or .xlsx file into a Table, bounded: at most MAX_ROWS lines after the header, MAX_COLUMNS wide."""

from __future__ import annotations

import csv
import hashlib
import io
import re
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
    with closing(lines):
        for line, cells in lines:
            last = _last_line(header_line)
            if line > last:
                raise _too_many(_blank(cells), last)
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


MAX_UNZIPPED_BYTES = 100 * 1024 * 1024  # far beyond any real 50,000-row workbook, far below a zip bomb


def _refuse_zip_bomb(data: bytes) -> None:
    """A workbook is a zip: refuse one whose parts would unpack to more than MAX_UNZIPPED_BYTES."""
    try:
        with zipfile.ZipFile(io.BytesIO(data)) as archive:
            unpacked = sum(part.file_size for part in archive.infolist())
    except zipfile.BadZipFile as exc:
        raise FileProblem("The file could not be read as an Excel workbook (.xlsx): save it again, or as CSV.") from exc
    if unpacked > MAX_UNZIPPED_BYTES:
        raise FileProblem("The workbook unpacks to more than 100 MB: save it as CSV, or split it into smaller files.")


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
        raise FileProblem("The file could not be read as an Excel workbook (.xlsx): save it again, or as CSV.") from exc

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
