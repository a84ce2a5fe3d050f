"""What the fault and crash-safety tests share: a snapshot of every read model (and how two differ), how far
the stored positions go, a child process's environment, and a processor running in a thread.
"""

from __future__ import annotations

import os
import threading
import time
from collections.abc import Callable
from typing import Any

from sqlalchemy import Engine, func, select
from sqlmodel import Session, SQLModel

from impact.eventlog import open_event_log
from impact.settings import Settings
from processors.consumer import Processor
from processors.quality import QualityGate
from schemas.readmodels import ConsumerOffset

VOLATILE = {"dead_at", "group_id"}  # columns that legitimately differ between runs


def snapshot(engine: Engine) -> dict[str, list[tuple[Any, ...]]]:
    """Every read-model row, without columns that legitimately differ between runs."""
    tables: dict[str, list[tuple[Any, ...]]] = {}
    with engine.connect() as conn:
        for table in SQLModel.metadata.sorted_tables:
            columns = [c for c in table.columns if c.name not in VOLATILE]
            rows = conn.execute(select(*columns)).all()
            tables[table.name] = sorted(tuple(row) for row in rows)
    return tables


def differences(actual: dict[str, list[Any]], expected: dict[str, list[Any]], rows: int = 5) -> str:
    """What differs between two snapshots, a few rows per table (for a readable failure)."""
    lines = []
    for name in expected:
        missing, extra = set(expected[name]) - set(actual[name]), set(actual[name]) - set(expected[name])
        if missing or extra or len(actual[name]) != len(expected[name]):
            lines.append(f"{name}: {len(actual[name])} rows, expected {len(expected[name])}")
            lines += [f"  missing {row}" for row in sorted(missing, key=repr)[:rows]]
            lines += [f"  extra   {row}" for row in sorted(extra, key=repr)[:rows]]
    return "\n".join(lines)


def progress(engine: Engine) -> int:
    """How many log records the stored positions cover (all partitions)."""
    with Session(engine) as session:
        return int(session.exec(select(func.coalesce(func.sum(ConsumerOffset.next_offset), 0))).one()[0])  # type: ignore[call-overload]


def past(engine: Engine, position: int) -> Callable[[], bool]:
    """Whether the stored positions have reached `position` (a condition for `wait_until`)."""
    return lambda: progress(engine) >= position


def environment(settings: Settings) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("IMPACT_")}
    for name, value in settings.model_dump(mode="json").items():
        if value is not None:
            env[f"IMPACT_{name.upper()}"] = str(value)
    return env


def on(settings: Settings, engine: Engine, **changes: Any) -> Settings:
    url = engine.url.render_as_string(hide_password=False)
    return settings.model_copy(update={"database_url": url, **changes})


class Running:
    """A processor running in a thread; what it raised, if anything, is kept."""

    def __init__(self, settings: Settings, engine: Engine, gate: QualityGate, *, until_caught_up: bool = True) -> None:
        self.event_log = open_event_log(settings)
        self.processor = Processor.for_settings(settings, engine=engine, event_log=self.event_log, gate=gate)
        self.error: BaseException | None = None
        self.errors_seen: set[str] = set()
        self.stop = threading.Event()
        self.thread = threading.Thread(
            target=self._run, args=(settings, until_caught_up), daemon=True, name="processor"
        )
        self.thread.start()

    def _run(self, settings: Settings, until_caught_up: bool) -> None:
        try:
            batching = {"batch_size": settings.batch_size, "poll_timeout_ms": settings.poll_timeout_ms}
            self.processor.run(self.stop, **batching, until_caught_up=until_caught_up)
        except BaseException as exc:
            self.error = exc

    def watch(self, seconds: float, *, until_felt: float = 0.0) -> None:
        """Note every error the processor reports for `seconds` (and on until one is seen, up to
        `until_felt` seconds), checking all the while that it keeps running."""
        start = time.monotonic()
        while (elapsed := time.monotonic() - start) < seconds or (not self.errors_seen and elapsed < until_felt):
            if self.processor.health.last_error:
                self.errors_seen.add(self.processor.health.last_error)
            assert self.thread.is_alive(), f"the processor stopped during the fault: {self.error!r}"
            time.sleep(0.02)

    def finish(self, timeout_s: float) -> None:
        self.thread.join(timeout_s)
        alive = self.thread.is_alive()
        self.stop.set()
        self.thread.join(10)
        self.event_log.close()
        assert not alive, "the processor did not catch up after the fault"
        assert self.error is None, f"the processor failed: {self.error!r}"
