"""Spreadsheet import: CSV or Excel (.xlsx) files of participants, attendance or contributions.

The staff page (`views.py`) and the `impact import` command share this package: `read` reads a file
into a Table, `check` checks every row (through `checker` and one module per kind: `participants`,
`attendance`, `contributions`, reading cells with `cells` and the read models with `register`), and
`append` puts a file without problems in the log. `columns` describes each kind's columns and templates.

**A file is imported whole or not at all.** Every row goes through the same event models as the API,
and every problem is reported as "Line N: column: reason", with N the spreadsheet's own line number
(the header is line 1). If any row has a problem, nothing is appended. A file without problems is
appended in one call to the log: the embedded log (the default) writes it in one transaction, so a
failed write stores none of it. Kafka cannot write a list atomically, so there a failed write may
store part of the file, and sending the same file again completes it (below).

**Reading is bounded.** Rows are read one at a time and reading stops one line past the limit
(MAX_ROWS lines after the header, blank lines included), so a tiny workbook with one cell at row
1,000,000 is refused at once; a workbook's rows are read only as wide as its header (at most
MAX_COLUMNS), however wide the sheet claims to be.

**Why import reads the register.** Ingest normally checks only the shape of an event and leaves
references ("is this participant registered?") to the processor, which dead-letters an event that
names an unknown participant or activity. That is right for one event at a time, but a spreadsheet
of 500 rows where row 312 names a participant nobody registered would then be imported *in part*:
499 rows counted, one dead letter, and staff left to work out which rows went in. All-or-nothing
needs the references checked at the door, so import reads the organisation's read models (and the
rows earlier in the same file) before it appends anything. The processor's own check stays the
authority: the register may change between the check and the append (someone else registers the
same ID a moment later), and then the processor dead-letters the event as usual.

**Sending a file again is safe.** Event ids are derived from the organisation, a digest of the file's
bytes, the line and the event type. Sending the same file again (for example after the log did not
confirm a write) finds the events it already recorded through their confirmed receipts and the
processed-event ids, appends only the rest (exactly as an unconfirmed earlier claim named them), and
never records a row twice (an event the log holds twice, because Kafka delivered it without
confirming, counts once: the processor skips an event id it has seen). A different file naming a
participant or contribution that is already recorded is refused ("was this file imported before?").
"""

from ingest.importing.append import append
from ingest.importing.cells import Row
from ingest.importing.check import SHOWN_ERRORS, Checked, Progress, check
from ingest.importing.columns import (
    COLUMNS,
    KIND_FILES,
    KIND_LABELS,
    NAMES,
    REQUIRED,
    Column,
    FileProblem,
    Kind,
    RowError,
    template_csv,
)
from ingest.importing.read import (
    MAX_CELL_CHARS,
    MAX_CELLS,
    MAX_COLUMNS,
    MAX_READ_SECONDS,
    MAX_ROWS,
    MAX_UNZIPPED_BYTES,
    Table,
    detect_kind,
    read_table,
)
from ingest.importing.register import Register, load_register

__all__ = [
    "COLUMNS",
    "KIND_FILES",
    "KIND_LABELS",
    "MAX_CELLS",
    "MAX_CELL_CHARS",
    "MAX_COLUMNS",
    "MAX_READ_SECONDS",
    "MAX_ROWS",
    "MAX_UNZIPPED_BYTES",
    "NAMES",
    "REQUIRED",
    "SHOWN_ERRORS",
    "Checked",
    "Column",
    "FileProblem",
    "Kind",
    "Progress",
    "Register",
    "Row",
    "RowError",
    "Table",
    "append",
    "check",
    "detect_kind",
    "load_register",
    "read_table",
    "template_csv",
]
