"""Spreadsheet import: CSV or Excel files of participants, attendance or contributions.

The checking is `ingest.importing` (shared with the `impact import` command). A file with any bad
row imports nothing and lists every problem with its line number; a good file is appended in one call
to the log (on the embedded log, one transaction: all of it or none), and the processors fold it into
the lists within seconds. The organisation is always the signed-in person's: a file has no
organisation column.
"""

from __future__ import annotations

from pathlib import PurePath
from typing import Any

from flask import Blueprint, Response, abort, flash, redirect, render_template, request, url_for

from impact.auth.sessions import CAN_LOG, get_engine, guard, signed_in
from impact.eventlog import LogUnavailable
from impact.eventlog.recording import ReusedEventId
from ingest import get_event_log, get_settings, importing
from ingest.importing import COLUMNS, KIND_FILES, KIND_LABELS, SHOWN_ERRORS, Kind

bp = Blueprint("imports", __name__, url_prefix="/staff/import")
guard(bp, CAN_LOG)  # every page here, present and future: sign in first, with a role that records

DETECT = "detect"
KIND_CHOICES = [(DETECT, "Tell from the header row"), *((kind.value, KIND_LABELS[kind]) for kind in Kind)]
SUFFIXES = (".csv", ".xlsx")
# Not "nothing was saved": on the embedded log that is so (one transaction), but Kafka may have kept
# part of the file. Either way the same file sent again completes it, and nothing in it counts twice.
SAVE_FAILED = (
    "The file could not be saved just now. Send the same file again in a minute, unchanged: nothing in it "
    "is saved twice."
)
SENT_TWICE = (
    "This file is being imported at the same moment by someone else, or was just imported. Check the lists "
    "in a minute before sending it again."
)


def _page(status: int = 200, **context: Any) -> tuple[str, int]:
    context.setdefault("errors", {})
    context.setdefault("form", {"kind": DETECT})
    return render_template(
        "import.html",
        kinds=KIND_CHOICES,
        columns=COLUMNS,
        kind_labels=KIND_LABELS,
        kind_files=KIND_FILES,
        max_rows=importing.MAX_ROWS,
        max_bytes=get_settings().max_body_bytes,
        max_columns=importing.MAX_COLUMNS,
        max_cell_chars=importing.MAX_CELL_CHARS,
        max_unzipped=importing.MAX_UNZIPPED_BYTES,
        **context,
    ), status


@bp.get("/")
def index() -> Any:
    return _page()


@bp.post("/")
def upload() -> Any:
    person = signed_in()
    chosen = request.form.get("kind", DETECT)
    form = {"kind": chosen}
    errors: dict[str, str] = {}
    if chosen != DETECT and chosen not in Kind.__members__:
        errors["kind"] = "Choose what the file holds, or let it be told from the header row."
    upload = request.files.get("file")
    filename = PurePath((upload.filename or "").replace("\\", "/")).name if upload else ""
    if upload is None or not filename:
        errors["file"] = "Choose a CSV or Excel file to import."
    elif PurePath(filename).suffix.lower() == ".xls":
        errors["file"] = "Older Excel files (.xls) cannot be read: save it as an Excel workbook (.xlsx) or as CSV."
    elif PurePath(filename).suffix.lower() not in SUFFIXES:
        errors["file"] = "The file must be a CSV file (.csv) or an Excel workbook (.xlsx)."
    if errors or upload is None:
        return _page(422, errors=errors, form=form)
    kind = None if chosen == DETECT else Kind(chosen)
    engine = get_engine()
    try:
        data = upload.read()
    finally:
        upload.close()  # a large upload is spooled to a temporary file: close it as soon as it is read
    try:
        table = importing.read_table(data, filename)
        checked = importing.check(table, org_id=person.org_id, engine=engine, kind=kind)
    except importing.FileProblem as exc:
        return _page(422, errors={"file": f"{filename}: {exc} Nothing was imported."}, form=form)
    if checked.errors:
        lines = checked.bad_lines
        message = (
            f"{filename}: nothing was imported, because {lines:,} {'row has' if lines == 1 else 'rows have'} "
            "problems (listed below). Correct them and send the whole file again."
        )
        return _page(
            422,
            errors={"file": message},
            form=form,
            filename=filename,
            row_errors=checked.errors[:SHOWN_ERRORS],
            more=max(0, len(checked.errors) - SHOWN_ERRORS),
        )
    try:
        importing.append(
            checked,
            get_event_log(),
            get_settings().topic,
            recorded_by=f"account:{person.account_id}",
            engine=engine,
        )
    except LogUnavailable:
        return _page(503, errors={"file": SAVE_FAILED}, form=form)
    except ReusedEventId:
        return _page(409, errors={"file": SENT_TWICE}, form=form)
    note = " They appear in your lists within a few seconds." if checked.events else ""
    flash(checked.summary() + note, "success")
    return redirect(url_for("imports.index"))


@bp.get("/templates/<kind>.csv")
def template(kind: str) -> Response:
    if kind not in Kind.__members__:
        abort(404)
    return Response(
        importing.template_csv(Kind(kind)),
        mimetype="text/csv",
        headers={"Content-Disposition": f'attachment; filename="{kind}-template.csv"'},
    )
