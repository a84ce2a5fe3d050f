"""Spreadsheet import: the `impact import` command."""

from __future__ import annotations

import io
import zipfile
from typing import Any

import pytest
from click.testing import CliRunner
from sqlalchemy import Engine

from impact.cli import main
from impact.eventlog import EventLog
from impact.settings import Settings
from ingest.importing import FileProblem, read_table
from processors.quality import QualityGate
from schemas.readmodels import Participant
from tests.factories import process_all
from tests.ingest.importing.helpers import (
    ATTENDANCE,
    ATTENDANCE_HEADER,
    ORG,
    PEOPLE,
    PEOPLE_HEADER,
    as_csv,
    as_xlsx,
    rows_of,
    stored,
)

# --- The command line -------------------------------------------------------------------------------


@pytest.fixture
def cli_env(settings: Settings, engine: Engine, emails: dict[str, str], monkeypatch: pytest.MonkeyPatch) -> None:
    import os

    for name in list(os.environ):
        if name.startswith("IMPACT_"):
            monkeypatch.delenv(name)
    monkeypatch.setenv("IMPACT_ENV", "test")
    monkeypatch.setenv("IMPACT_DATA_DIR", str(settings.data_dir))
    monkeypatch.setenv("IMPACT_SECRET_KEY", settings.secret_key)
    monkeypatch.setenv("IMPACT_TOPIC", settings.topic)
    monkeypatch.setenv("IMPACT_DATABASE_URL", engine.url.render_as_string(hide_password=False))


def test_the_command_imports_a_file_with_a_progress_bar(
    cli_env: None, tmp_path: Any, engine: Engine, settings: Settings, event_log: EventLog, gate: QualityGate
) -> None:
    path = tmp_path / "members.csv"
    path.write_bytes(as_csv(PEOPLE_HEADER, PEOPLE))
    result = CliRunner().invoke(main, ["import", str(path), "--org", ORG])
    assert result.exit_code == 0, result.output
    assert "Checking rows" in result.stderr
    assert "Imported 3 participants from members.csv." in result.stdout
    assert {e.recorded_by for e in stored(event_log, settings)} == {"import:cli"}
    process_all(settings, engine, gate)
    assert len(rows_of(engine, Participant)) == 3

    path = tmp_path / "forum.xlsx"
    path.write_bytes(as_xlsx(ATTENDANCE_HEADER, ATTENDANCE))
    result = CliRunner().invoke(main, ["import", str(path), "--org", ORG, "--kind", "attendance"])
    assert result.exit_code == 0, result.output
    assert "Imported 4 attendances and 2 new activities from forum.xlsx." in result.stdout
    again = CliRunner().invoke(main, ["import", str(path), "--org", ORG])
    assert again.exit_code == 0 and "was already imported" in again.stdout
    assert len(stored(event_log, settings)) == 3 + 6


def test_the_command_exits_1_with_line_numbered_errors_and_imports_nothing(
    cli_env: None, tmp_path: Any, settings: Settings, event_log: EventLog
) -> None:
    path = tmp_path / "members.csv"
    rows = [["P1", "Ann", "carer", "", "", "", ""], ["P2", "Bo", "volunteer", "", "", "", ""], ["P3", "", "carer"]]
    path.write_bytes(as_csv(PEOPLE_HEADER, rows))
    result = CliRunner().invoke(main, ["import", str(path), "--org", ORG])
    assert result.exit_code == 1
    assert "Line 3: role: 'volunteer' is not one of" in result.stderr
    assert "Line 4: display_name: is empty; fill it in" in result.stderr
    assert "members.csv: 2 rows have problems; nothing was imported." in result.stderr
    assert stored(event_log, settings) == []

    unknown = CliRunner().invoke(main, ["import", str(path), "--org", "nobody-here"])
    assert unknown.exit_code == 1 and "there is no organisation 'nobody-here'" in unknown.stderr
    (tmp_path / "notes.csv").write_text("name,notes\na,b\n")
    unclear = CliRunner().invoke(main, ["import", str(tmp_path / "notes.csv"), "--org", ORG])
    assert unclear.exit_code == 1 and "Nothing was imported." in unclear.stderr


def test_a_workbook_that_would_unpack_to_a_huge_size_is_refused_unread() -> None:
    """A zip bomb: a few hundred kilobytes that would unpack to 200 MB of shared strings."""
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w", zipfile.ZIP_DEFLATED) as archive:
        archive.writestr("[Content_Types].xml", "<Types/>")
        archive.writestr("xl/sharedStrings.xml", b"<sst>" + b"a" * (200 * 1024 * 1024) + b"</sst>")
    assert len(buffer.getvalue()) < 1024 * 1024
    with pytest.raises(FileProblem, match="unpacks to more than 40 MB"):
        read_table(buffer.getvalue(), "bomb.xlsx")
