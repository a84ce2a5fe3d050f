"""Fault injection for the crash-safety tests: real faults on real services, no mocks.

- `TcpProxy`: a TCP forwarder in front of a real server (PostgreSQL) that can `cut()` every live
  connection and refuse new ones, then `restore()` (a database outage as the client sees it).
- `Zygote`: a warm Python process (imports done, the Great Expectations gate built once) that forks
  processor runs on demand, so a test can SIGKILL and restart a processor many times without paying
  several seconds of start-up each time. A run may carry a `Trap`: test-only instrumentation installed
  in the forked child (never in production code) that SIGKILLs the child at the nth time it reaches a
  given phase of a batch (a SQL statement, the commit, the quality check, a log call...).

Faults of the other services (ingest under gunicorn, the broker, the PostgreSQL server): services.py.

Run as `python -m tests.faults.harness` to be the zygote (see `Zygote`).
"""

from __future__ import annotations

import contextlib
import itertools
import json
import os
import re
import select
import signal
import socket
import subprocess
import sys
import threading
import time
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import IO, Any

ROOT = Path(__file__).resolve().parents[2]


# --- A TCP proxy that can cut the connection ---------------------------------------------------------


class TcpProxy:
    """Forwards 127.0.0.1:`port` to `target`; `cut()` closes every live connection and refuses new ones."""

    def __init__(self, target_host: str, target_port: int) -> None:
        self.target = (target_host, target_port)
        self.port = 0
        self.connections = 0  # accepted and forwarded, over the proxy's life
        self._lock = threading.Lock()
        self._sockets: set[socket.socket] = set()
        self._listener: socket.socket | None = None
        self._listen()

    def _listen(self) -> None:
        listener = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        listener.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        listener.bind(("127.0.0.1", self.port))
        listener.listen(64)
        listener.settimeout(0.1)
        self.port = int(listener.getsockname()[1])
        with self._lock:
            self._listener = listener
        threading.Thread(target=self._accept, args=(listener,), daemon=True, name="proxy-accept").start()

    def _accept(self, listener: socket.socket) -> None:
        while True:
            with self._lock:
                if self._listener is not listener:
                    return
            try:
                client, _ = listener.accept()
            except TimeoutError:
                continue
            except OSError:
                return
            client.settimeout(None)
            try:
                upstream = socket.create_connection(self.target, timeout=5)
                upstream.settimeout(None)
            except OSError:
                client.close()
                continue
            with self._lock:
                if self._listener is not listener:  # cut while connecting
                    client.close()
                    upstream.close()
                    return
                self._sockets |= {client, upstream}
                self.connections += 1
            for source, sink in ((client, upstream), (upstream, client)):
                threading.Thread(target=self._pump, args=(source, sink), daemon=True, name="proxy-pump").start()

    def _pump(self, source: socket.socket, sink: socket.socket) -> None:
        try:
            while data := source.recv(65536):
                sink.sendall(data)
        except OSError:
            pass
        finally:
            for sock in (source, sink):
                _hang_up(sock)
            with self._lock:
                self._sockets -= {source, sink}

    def cut(self) -> None:
        """Drop every live connection at once and refuse new ones (connection refused) until `restore()`."""
        with self._lock:
            listener, self._listener = self._listener, None
            live, self._sockets = self._sockets, set()
        if listener is not None:
            listener.close()
        for sock in live:
            _hang_up(sock)

    def restore(self) -> None:
        """Accept and forward connections again, on the same port."""
        if self._listener is None:
            self._listen()

    def close(self) -> None:
        self.cut()

    def __enter__(self) -> TcpProxy:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()


def _hang_up(sock: socket.socket) -> None:
    with contextlib.suppress(OSError):
        sock.shutdown(socket.SHUT_RDWR)
    sock.close()


# --- Kill traps: where, inside a batch, a forked processor SIGKILLs itself ------------------------------

# phase -> (engine event, statement pattern). Table names are SQLModel's defaults (lower-case class names).
SQL_PHASES: dict[str, tuple[str, str]] = {
    "lookup": ("before_cursor_execute", r"\bFROM processedevent\b"),  # reading what was already processed
    "advance": ("after_cursor_execute", r"^UPDATE consumeroffset\b"),  # positions moved, no rows yet
    "rows": ("after_cursor_execute", r"^INSERT INTO (participant|activity|attendance|contribution)\b"),
    "processed": ("after_cursor_execute", r"^INSERT INTO processedevent\b"),  # rows written, ids being marked
    "park": ("before_cursor_execute", r"^(DELETE FROM|INSERT INTO) parkedevent\b"),  # events waiting for a reference
}
PHASES = (  # the order runs are planned in: phases that depend on what the log still holds come first
    "poll",  # a batch just read from the log, nothing done with it
    "dead-letter",  # dead letters appended to the log, the batch not yet written
    "park",
    "lookup",
    "validate",  # inside the data-quality check
    "advance",
    "rows",
    "processed",
    "commit",  # every row written, COMMIT about to be sent
    "log-commit",  # the transaction committed, the positions not yet committed to the log
)


@dataclass(frozen=True)
class Trap:
    """SIGKILL the processor the `nth` time (counted from its start) it reaches `phase`."""

    phase: str
    nth: int = 1


def arm(trap: Trap, processor: Any) -> None:
    """Install `trap` in this (child) process: test instrumentation wrapped around a real processor."""
    from sqlalchemy import event

    if trap.phase not in PHASES:
        raise ValueError(f"unknown phase {trap.phase!r}")
    hits = itertools.count(1)

    def reached() -> None:
        if next(hits) >= trap.nth:
            sys.stderr.flush()
            os.kill(os.getpid(), signal.SIGKILL)

    engine, log = processor.store.engine, processor.event_log
    if trap.phase in SQL_PHASES:
        name, pattern = SQL_PHASES[trap.phase]
        wanted = re.compile(pattern, re.IGNORECASE)

        def on_statement(_conn: Any, _cursor: Any, statement: str, *_args: Any) -> None:
            if wanted.search(statement.lstrip()):
                reached()

        event.listen(engine, name, on_statement)
    elif trap.phase == "commit":
        event.listen(engine, "commit", lambda _conn: reached())
    elif trap.phase == "validate":
        check = processor.gate.check

        def checking(*args: Any, **kwargs: Any) -> Any:
            result = check(*args, **kwargs)
            reached()
            return result

        processor.gate.check = checking
    elif trap.phase == "dead-letter":
        append = log.append

        def appending(topic: str, records: Any) -> None:
            append(topic, records)
            if topic == processor.dead_letter_topic:
                reached()

        log.append = appending
    else:  # poll, log-commit: around the log consumer the processor opens
        open_consumer = log.consumer

        def consumer(*args: Any, **kwargs: Any) -> Any:
            opened = open_consumer(*args, **kwargs)
            poll, commit = opened.poll, opened.commit

            def polling(*a: Any, **k: Any) -> Any:
                messages = poll(*a, **k)
                if messages and trap.phase == "poll":
                    reached()
                return messages

            def committing(*a: Any, **k: Any) -> Any:
                if trap.phase == "log-commit":
                    reached()
                return commit(*a, **k)

            opened.poll, opened.commit = polling, committing
            return opened

        log.consumer = consumer


# --- The zygote ---------------------------------------------------------------------------------------


class Zygote:
    """A warm process that forks processor runs: `start()` one, then `kill()` it or `wait()` for it.

    One run at a time. The zygote reaps its children only when asked, so a pid it kills is always its
    own child (never a recycled pid). Each run is `Processor.run(..., until_caught_up=True)` on the
    given settings, as `impact process --until-caught-up` does, with the zygote's quality gate (or, with
    `start(..., until_caught_up=False)`, a run that keeps waiting for records, as `impact process` does).
    """

    def __init__(self, log_path: Path, timeout_s: float = 120) -> None:
        self.log_path = log_path
        self._stderr = log_path.open("ab")
        env = {k: v for k, v in os.environ.items() if not k.startswith("IMPACT_")}
        self._proc = subprocess.Popen(
            [sys.executable, "-m", "tests.faults.harness"],
            cwd=ROOT,
            env=env,
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            stderr=self._stderr,
            text=True,
        )
        self._ask_timeout = timeout_s
        self._read()  # {"ready": true} once the gate is built

    def _read(self, timeout_s: float | None = None) -> dict[str, Any]:
        out = self._proc.stdout
        assert out is not None
        ready, _, _ = select.select([out], [], [], timeout_s or self._ask_timeout)
        line = out.readline() if ready else ""
        if not line:
            raise RuntimeError(f"the zygote did not answer; its log ends:\n{self.log_tail()}")
        answer: dict[str, Any] = json.loads(line)
        return answer

    def _ask(self, timeout_s: float | None = None, **command: Any) -> dict[str, Any]:
        stdin = self._proc.stdin
        assert stdin is not None
        stdin.write(json.dumps(command) + "\n")
        stdin.flush()
        return self._read(timeout_s)

    def start(self, settings: Any, trap: Trap | None = None, *, until_caught_up: bool = True) -> int:
        """Fork a processor run on `settings` (an impact Settings); returns its pid. With
        `until_caught_up=False` the run never ends by itself (it waits for more records once caught up)."""
        answer = self._ask(
            op="run",
            settings=settings.model_dump(mode="json"),
            trap=asdict(trap) if trap else None,
            until_caught_up=until_caught_up,
        )
        return int(answer["pid"])

    def poll(self) -> int | None:
        """The run's exit code (negative: killed by that signal), or None while it runs."""
        status: int | None = self._ask(op="poll")["status"]
        return status

    def wait(self, timeout_s: float) -> int | None:
        status: int | None = self._ask(timeout_s=timeout_s + 30, op="wait", timeout=timeout_s)["status"]
        return status

    def kill(self) -> int:
        """SIGKILL the run (if it still runs); its exit code."""
        status: int = self._ask(op="kill")["status"]
        return status

    def log_tail(self, chars: int = 3000) -> str:
        self._stderr.flush()
        return self.log_path.read_text(errors="replace")[-chars:]

    def close(self) -> None:
        with contextlib.suppress(OSError, ValueError):
            if self._proc.stdin:
                self._proc.stdin.close()
        try:
            self._proc.wait(15)
        except subprocess.TimeoutExpired:
            self._proc.kill()
            self._proc.wait(15)
        if self._proc.stdout:
            self._proc.stdout.close()
        self._stderr.close()

    def __enter__(self) -> Zygote:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()


def _reply(out: IO[str], **answer: Any) -> None:
    out.write(json.dumps(answer) + "\n")
    out.flush()


def _serve() -> None:
    """The zygote's loop: one JSON command a line on stdin, one JSON answer a line on stdout."""
    import logging

    from processors.consumer import Processor  # noqa: F401  (imported once, before any fork)
    from processors.quality import QualityGate

    logging.basicConfig(level=logging.INFO, stream=sys.stderr, format="%(process)d %(name)s: %(message)s")
    for chatty in ("kafka", "alembic", "great_expectations"):
        logging.getLogger(chatty).setLevel(logging.WARNING)
    gate = QualityGate()
    out = sys.stdout
    child: int | None = None
    status: int | None = None

    def reap(block: bool, deadline: float = 0.0) -> int | None:
        nonlocal child, status
        while child is not None:
            pid, raw = os.waitpid(child, 0 if block and not deadline else os.WNOHANG)
            if pid:
                child, status = None, os.waitstatus_to_exitcode(raw)
                break
            if not deadline or time.monotonic() >= deadline:
                break
            time.sleep(0.01)
        return status

    _reply(out, ready=True)
    for line in sys.stdin:
        command = json.loads(line)
        op = command["op"]
        if op == "run":
            if child is not None:
                os.kill(child, signal.SIGKILL)
                reap(block=True)
            sys.stderr.flush()
            pid = os.fork()
            if pid == 0:
                _run_child(command["settings"], command["trap"], gate, bool(command.get("until_caught_up", True)))
            child, status = pid, None
            _reply(out, pid=pid)
        elif op == "poll":
            _reply(out, status=reap(block=False))
        elif op == "wait":
            _reply(out, status=reap(block=True, deadline=time.monotonic() + float(command["timeout"])))
        elif op == "kill":
            if child is not None:
                os.kill(child, signal.SIGKILL)
            _reply(out, status=reap(block=True))
        else:
            _reply(out, error=f"unknown op {op!r}")
    if child is not None:
        os.kill(child, signal.SIGKILL)
        reap(block=True)


def _run_child(values: dict[str, Any], trap: dict[str, Any] | None, gate: Any, until_caught_up: bool) -> None:
    """In the forked child: run the processor (until caught up, or until killed), then leave without
    running any cleanup."""
    code = 1
    try:
        devnull = os.open(os.devnull, os.O_RDWR)
        os.dup2(devnull, 0)
        os.dup2(devnull, 1)  # the zygote's stdout is the protocol pipe
        import threading as child_threading

        from impact.db import make_engine
        from impact.eventlog import open_event_log
        from impact.settings import Settings
        from processors.consumer import Processor

        settings = Settings.model_validate(values)
        engine = make_engine(settings.sqlalchemy_url)
        processor = Processor.for_settings(settings, engine=engine, event_log=open_event_log(settings), gate=gate)
        if trap:
            arm(Trap(**trap), processor)
        processor.run(
            child_threading.Event(),
            batch_size=settings.batch_size,
            poll_timeout_ms=settings.poll_timeout_ms,
            until_caught_up=until_caught_up,
        )
        code = 0
    except BaseException:
        import traceback

        traceback.print_exc()
    finally:
        sys.stderr.flush()
        os._exit(code)


if __name__ == "__main__":
    _serve()
