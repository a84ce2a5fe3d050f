"""Spreadsheet import: reading files (escaping, encodings, kinds, unreadable files, row and size limits)."""

from __future__ import annotations

import io
from collections.abc import Callable
from typing import Any

import pytest
from flask.testing import FlaskClient
from openpyxl import Workbook
from sqlalchemy import Engine

from impact.eventlog import EventLog
from impact.settings import Settings
from ingest import importing
from ingest.importing import FileProblem, Kind, detect_kind, read_table
from processors.quality import QualityGate
from schemas.readmodels import Participant
from tests.factories import csrf_from, process_all
from tests.ingest.importing.helpers import (
    ATTENDANCE_HEADER,
    CONTRIBUTION_HEADER,
    PAGE,
    as_csv,
    imported,
    no_dead_letters,
    rows_of,
    send,
    stored,
)

# --- Escaping, encodings, kinds ---------------------------------------------------------------------


def test_markup_is_stored_as_typed_and_shown_escaped(
    staff: FlaskClient, engine: Engine, settings: Settings, gate: QualityGate
) -> None:
    script = "<script>alert(1)</script>"
    bad = as_csv(["display_name", "role"], [[script, "carer"], ["Bo", script]])
    html = send(staff, bad, "<i>members.csv").get_data(as_text=True)
    assert script not in html and "<i>members" not in html
    assert "Line 3: role: &#39;&lt;script&gt;alert(1)&lt;/script&gt;&#39; is not one of" in html
    assert "&lt;i&gt;members.csv" in html

    page = imported(staff, as_csv(["display_name", "role"], [[script, "carer"]]), "<i>members.csv")
    assert "Imported 1 participant from &lt;i&gt;members.csv." in page
    assert script not in page and "<i>" not in page
    process_all(settings, engine, gate)
    [person] = rows_of(engine, Participant)
    assert person.display_name == script


@pytest.mark.parametrize("encoding", ["utf-8-sig", "cp1252"])
def test_a_bom_or_a_windows_1252_file_reads_correctly(
    staff: FlaskClient, engine: Engine, settings: Settings, gate: QualityGate, encoding: str
) -> None:
    data = as_csv(["Display Name", "Role"], [["Renée Brontë", "Carer"], ["Zoë £ Øster", "Patient"]], encoding)
    assert data.startswith(b"\xef\xbb\xbf") == (encoding == "utf-8-sig")
    imported(staff, data, "members.csv")
    process_all(settings, engine, gate)
    assert sorted(p.display_name for p in rows_of(engine, Participant)) == ["Renée Brontë", "Zoë £ Øster"]
    assert read_table(data, "m.csv").encoding == ("UTF-8" if encoding == "utf-8-sig" else "Windows-1252")


@pytest.mark.parametrize(
    ("header", "kind"),
    [
        (["participant_id", "display_name", "role"], Kind.participants),
        (["Display name", "ROLE"], Kind.participants),
        (["activity_id", "participant_id", "hours"], Kind.attendance),
        (ATTENDANCE_HEADER, Kind.attendance),
        (CONTRIBUTION_HEADER, Kind.contributions),
    ],
)
def test_the_kind_is_told_from_the_header(header: list[str], kind: Kind) -> None:
    table = read_table(as_csv(header, [["x"] * len(header)]), "f.csv")
    assert detect_kind(table.header) == kind


def test_a_header_that_fits_no_kind_or_several_asks_for_the_kind(staff: FlaskClient) -> None:
    with pytest.raises(FileProblem, match="Could not tell"):
        detect_kind(["name", "notes"])
    with pytest.raises(FileProblem, match="more than one kind of file"):
        detect_kind(["display_name", "role", "activity_id", "participant_id"])
    html = send(staff, as_csv(["name", "notes"], [["a", "b"]]), "x.csv").get_data(as_text=True)
    assert "choose the kind" in html and "Nothing was imported." in html
    # Choosing the kind overrides what the header suggests.
    html = send(staff, as_csv(["display_name", "role"], [["a", "carer"]]), "x.csv", kind="attendance").get_data(
        as_text=True
    )
    assert "Line 1: display_name: is not a column of an attendance file" in html


@pytest.mark.parametrize(
    ("data", "filename", "message"),
    [
        (b"", "empty.csv", "The file is empty."),
        (b"\n\n", "blank.csv", "The file is empty."),
        (b"display_name,role\n", "members.txt", "must be a CSV file (.csv) or an Excel workbook (.xlsx)"),
        (b"\xd0\xcf\x11\xe0rest", "old.xls", "Older Excel files (.xls) cannot be read"),
        (b"PK\x03\x04broken", "broken.xlsx", "could not be read as an Excel workbook"),
    ],
)
def test_unreadable_files_are_refused_with_a_reason(
    staff: FlaskClient, settings: Settings, event_log: EventLog, data: bytes, filename: str, message: str
) -> None:
    response = send(staff, data, filename)
    assert response.status_code == 422
    assert message in response.get_data(as_text=True)
    assert stored(event_log, settings) == []


def test_no_file_is_asked_for(staff: FlaskClient) -> None:
    token = csrf_from(staff, PAGE)
    response = staff.post(PAGE, data={"csrf_token": token, "kind": "detect"}, content_type="multipart/form-data")
    assert response.status_code == 422
    assert "Choose a CSV or Excel file to import." in response.get_data(as_text=True)


def test_too_many_rows_and_too_many_bytes_are_refused(
    staff: FlaskClient, settings: Settings, event_log: EventLog, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(importing.read, "MAX_ROWS", 5)
    data = as_csv(["display_name", "role"], [[f"P {i}", "carer"] for i in range(6)])
    assert "more than 5 rows: split it into several files" in send(staff, data, "m.csv").get_data(as_text=True)
    # A body over the limit is refused before it is read (sent raw: the test client would spool a file upload).
    big = b"--x\r\n" + b"x" * (settings.max_body_bytes + 10)
    response = staff.post(PAGE, data=big, content_type="multipart/form-data; boundary=x")
    assert response.status_code == 413
    assert "The file is too large" in response.get_data(as_text=True)
    assert stored(event_log, settings) == []


def workbook(fill: Callable[[Any], object]) -> bytes:
    """A workbook whose first sheet `fill` writes (openpyxl records the sheet's extent in <dimension>)."""
    book = Workbook()
    sheet = book.active
    assert sheet is not None
    fill(sheet)
    out = io.BytesIO()
    book.save(out)
    return out.getvalue()


def test_a_tiny_workbook_with_a_cell_at_row_1000000_is_refused_at_the_row_limit(
    staff: FlaskClient, settings: Settings, event_log: EventLog
) -> None:
    def fill(sheet: Any) -> None:
        sheet.append(["display_name", "role"])
        sheet.append(["Ann", "carer"])
        sheet.cell(row=1_000_000, column=1, value="far down")

    data = workbook(fill)
    assert len(data) < 10_000
    # Reading stops one line past the limit: openpyxl never fills in the 999,997 empty rows.
    with pytest.raises(FileProblem, match="more than 50,000 rows: split it into several files"):
        read_table(data, "far.xlsx")
    response = send(staff, data, "far.xlsx")
    assert response.status_code == 422
    html = response.get_data(as_text=True)
    assert "The file has more than 50,000 rows: split it into several files." in html
    assert "Rows below line 50,001 count too, even ones that look empty" in html
    assert stored(event_log, settings) == []


def test_a_workbook_is_read_only_as_wide_as_its_header(
    staff: FlaskClient, engine: Engine, settings: Settings, gate: QualityGate
) -> None:
    def fill(sheet: Any) -> None:
        sheet.append(["display_name", "role"])
        sheet.append(["Ann", "carer"])
        sheet["XFD2"] = "a note far to the right"  # the sheet's <dimension> becomes A1:XFD3
        sheet.append(["Bo", "patient"])

    data = workbook(fill)
    table = read_table(data, "members.xlsx")
    assert table.header == ["display_name", "role"]
    assert table.rows == [(2, ["Ann", "carer"]), (3, ["Bo", "patient"])]  # two cells each, not 16,384
    # The note has no heading, so no column it could go in: it is not read, and the rows import.
    assert "Imported 2 participants from members.xlsx." in imported(staff, data, "members.xlsx")
    process_all(settings, engine, gate)
    assert [p.display_name for p in rows_of(engine, Participant, Participant.display_name)] == ["Ann", "Bo"]
    no_dead_letters(engine)


def test_a_header_wider_than_100_columns_is_refused(staff: FlaskClient) -> None:
    wide = workbook(lambda sheet: sheet.append(["display_name", "role", *(f"extra {i}" for i in range(99))]))
    message = "Line 1: the header row has more than 100 columns; a file needs at most 13"
    with pytest.raises(FileProblem, match=message):
        read_table(wide, "wide.xlsx")
    assert message in send(staff, wide, "wide.xlsx").get_data(as_text=True)
    csv_wide = as_csv(["display_name", "role", *(f"extra {i}" for i in range(99))], [["Ann", "carer"]])
    with pytest.raises(FileProblem, match=message):
        read_table(csv_wide, "wide.csv")
    # 100 columns are read; a heading past them (here at XFD) is not, so it does not make the header wider.
    far = workbook(lambda sheet: (sheet.append(["display_name", "role"]), sheet.cell(row=1, column=16384, value="x")))
    assert read_table(far, "far.xlsx").header == ["display_name", "role"]


def test_the_row_limit_counts_lines_after_the_header_and_stops_reading_there(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setattr(importing.read, "MAX_ROWS", 5)
    people = [[f"P {i}", "carer"] for i in range(5)]
    assert len(read_table(as_csv(["display_name", "role"], people), "m.csv").rows) == 5
    ok = workbook(lambda sheet: [sheet.append(row) for row in [["display_name", "role"], *people]])
    assert len(read_table(ok, "m.xlsx").rows) == 5
    # A blank line below the limit counts: it may be a gap before more rows.
    with pytest.raises(FileProblem, match=r"more than 5 rows.*Rows below line 6 count too"):
        read_table(as_csv(["display_name", "role"], [*people, ["", ""]]), "m.csv")
    # Blank lines before the header do not use up the limit.
    assert len(read_table(b"\r\n\r\n" + as_csv(["display_name", "role"], people), "m.csv").rows) == 5
    # Nothing after the limit is read: a field that would make the CSV reader fail is never reached.
    broken = as_csv(["display_name", "role"], [*people, ["Extra", "carer"], ["x" * 200_000, "carer"]])
    with pytest.raises(FileProblem, match=r"more than 5 rows: split it into several files\.$"):
        read_table(broken, "m.csv")
    monkeypatch.setattr(importing.read, "MAX_ROWS", 10)
    with pytest.raises(FileProblem, match="Line 8: the CSV could not be read"):  # as it would be if read
        read_table(broken, "m.csv")


def test_a_csv_value_right_of_the_last_heading_is_reported_not_kept(
    staff: FlaskClient, settings: Settings, event_log: EventLog
) -> None:
    # An unquoted comma in the text shifts the end of the row one column to the right.
    data = b"display_name,role\r\nAnn,carer\r\nBo,patient" + b"," * 5000 + b"shifted\r\n"
    table = read_table(data, "members.csv")
    assert [cells for _, cells in table.rows] == [["Ann", "carer"], ["Bo", "patient"]]  # not 5,002 cells
    assert table.strays == {3: 5002}  # Bo, patient, 4,999 empty cells, shifted
    html = send(staff, data, "members.csv").get_data(as_text=True)
    assert "Line 3: column 5002: has a value but no heading in the header row; add one or clear it" in html
    assert stored(event_log, settings) == []
