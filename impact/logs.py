"""Structured logs: every service writes one JSON object per line to stderr, access lines included.

Each line has `time` (UTC, ISO 8601), `service`, `level`, `logger` and `message`; an access line adds the
request's fields (`method`, `path`, `status`, ...), a failure adds `exception`. The objects are built with
json.dumps, so a message with quotes or newlines in it stays one valid line.
"""

from __future__ import annotations

import json
import logging
import sys
from datetime import UTC, datetime
from typing import Any

# Libraries that talk at INFO on import or on every start (Great Expectations: ~200 lines on import).
# Their levels are set before they are imported, so the console keeps what an operator needs.
QUIET_LIBRARIES = ("great_expectations", "alembic", "kafka", "urllib3", "matplotlib", "numexpr", "PIL")

# What every LogRecord has; anything else on a record was given as `extra=` and is written as a field.
_RECORD_ATTRIBUTES = frozenset(vars(logging.LogRecord("", 0, "", 0, "", (), None))) | {"message", "asctime"}


class JsonFormatter(logging.Formatter):
    """One JSON object per record: time, service, level, logger, message, and any `extra=` fields."""

    def __init__(self, service: str) -> None:
        super().__init__()
        self.service = service

    def format(self, record: logging.LogRecord) -> str:
        entry: dict[str, Any] = {
            "time": datetime.fromtimestamp(record.created, UTC).isoformat(timespec="milliseconds"),
            "service": self.service,
            "level": record.levelname,
            "logger": record.name,
            "message": record.getMessage(),
        }
        for name, value in vars(record).items():
            if name not in _RECORD_ATTRIBUTES and not name.startswith("_") and name not in entry:
                entry[name] = value
        if record.exc_info:
            entry["exception"] = self.formatException(record.exc_info)
        if record.stack_info:
            entry["stack"] = self.formatStack(record.stack_info)
        return json.dumps(entry, default=str, ensure_ascii=False)


def _not_library_chatter(record: logging.LogRecord) -> bool:
    """False for a quiet library's record below WARNING (some set their own loggers' levels back to INFO)."""
    if record.levelno >= logging.WARNING:
        return True
    return not any(record.name == name or record.name.startswith(f"{name}.") for name in QUIET_LIBRARIES)


def handler(service: str) -> logging.Handler:
    """A stderr handler writing `service`'s JSON lines."""
    stream = logging.StreamHandler(sys.stderr)
    stream.setFormatter(JsonFormatter(service))
    stream.addFilter(_not_library_chatter)
    return stream


def configure(service: str, level: int = logging.INFO) -> None:
    """Send every log record of this process to stderr as JSON lines, and quieten chatty libraries."""
    root = logging.getLogger()
    for old in list(root.handlers):
        root.removeHandler(old)
    root.addHandler(handler(service))
    root.setLevel(level)
    for name in QUIET_LIBRARIES:
        logging.getLogger(name).setLevel(logging.WARNING)
    logging.captureWarnings(True)  # warnings become records too, instead of free text on stderr
