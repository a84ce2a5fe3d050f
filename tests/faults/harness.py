"""Fault injection for the crash-safety tests: real faults on real services, no mocks.

- `TcpProxy`: a TCP forwarder in front of a real server (PostgreSQL) that can `cut()` every live
  connection and refuse new ones, then `restore()` (a database outage as the client sees it).
- `Zygote`: a warm Python process (imports done, the Great Expectations gate built once) that forks
  processor runs on demand, so a test can SIGKILL and restart a processor many times without paying
  several seconds of start-up each time. A run may carry a `Trap`: test-only instrumentation installed
  in the forked child (never in production code) that SIGKILLs the child at the nth time it reaches a
  given phase of a batch (a SQL statement, the commit, the quality check, a log call...).

- `demo_rounds`: many events fast, the demo year repeated with fresh identifiers (no validation per copy).
- `IngestService` and `Client`: `impact ingest` under gunicorn, SIGKILLed master and workers at once,
  and API clients posting steadily that retry a 503 with the same event ids after its Retry-After.
- `restart_postgres` and `postgres_back_up`: a real restart of the PostgreSQL server (the local cluster on the
  port of IMPACT_TEST_POSTGRES_URL, found with `pg_lsclusters`), and the promise
  that it is running again afterwards, whatever happened.

Run as `python -m tests.faults.harness` to be the zygote (see `Zygote`).
"""

from __future__ import annotations

import contextlib
import itertools
import json
import os
import re
import select
import shutil
import signal
import socket
import subprocess
import sys
import threading
import time
import urllib.error
import urllib.request
import uuid
from collections import Counter
from collections.abc import Callable, Iterator
from dataclasses import asdict, dataclass, field
from datetime import UTC, datetime
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


# --- Many events, quickly ----------------------------------------------------------------------------

DEMO_SEEDS = 4  # demo years generated; every round repeats one of them with identifiers of its own
ROUNDS_NAMESPACE = uuid.UUID("0b7a2f4e-8c1d-4e6a-b3f9-5d2c7e1a9f08")


def demo_rounds(total: int, *, stored: bool = False) -> list[dict[str, Any]]:
    """`total` events as JSON documents: the demo year repeated with fresh identifiers, round after round
    (each round in causal order). `stored`: as the log keeps them (server fields stamped), else as a
    client sends them. No schema validation per copy: 100,000 take about a second, after the demo years."""
    from impact.demo import demo_events, renamed
    from schemas.events import StoredEvent

    def round_of(document: dict[str, Any], n: int) -> dict[str, Any]:
        """A demo event with identifiers of round `n`: the same facts about other people."""
        event_id = str(uuid.uuid5(ROUNDS_NAMESPACE, f"{n}/{document['event_id']}"))
        return {**document, "event_id": event_id, "payload": renamed(document["payload"], f"-r{n}")}

    now = datetime.now(UTC)
    years = []
    for seed in range(DEMO_SEEDS):
        events = demo_events(today=now.date(), seed=7 + seed)
        if stored:
            documents = [
                StoredEvent.accept(e, recorded_by="faults", recorded_at=now).model_dump(mode="json") for e in events
            ]
            for document in documents:
                if document.get("corrects") is None:
                    document.pop("corrects", None)
        else:
            documents = [e.model_dump(mode="json") for e in events]
        years.append(documents)
    out: list[dict[str, Any]] = []
    for n in itertools.count():
        out += (round_of(document, n) for document in years[n % DEMO_SEEDS])
        if len(out) >= total:
            return out[:total]
    raise AssertionError("unreachable")


def as_records(documents: list[dict[str, Any]]) -> list[Any]:
    """Stored documents as log records, keyed by organisation."""
    from impact.eventlog import Record

    return [Record(document["org_id"], json.dumps(document).encode()) for document in documents]


# --- Services stopped and killed ------------------------------------------------------------------------


class IngestService:
    """`impact ingest` (gunicorn, its master and workers in a process group of their own) on the given
    environment; `kill()` SIGKILLs the master and every worker at once, with no chance to clean up."""

    def __init__(self, env: dict[str, str], log_path: Path, port: int, workers: int = 2) -> None:
        self.port, self.url = port, f"http://127.0.0.1:{port}"
        self.log_path = log_path
        self._env = env | {"IMPACT_INGEST_PORT": str(port), "IMPACT_WORKERS": str(workers)}
        self._proc: subprocess.Popen[bytes] | None = None
        self.workers: list[int] = []

    def start(self, timeout_s: float = 90) -> float:
        """Start it and wait until it answers; seconds it took."""
        started = time.monotonic()
        with self.log_path.open("ab") as log:
            self._proc = subprocess.Popen(
                [sys.executable, "-m", "impact.cli", "ingest"],
                cwd=ROOT,
                env=self._env,
                stdout=log,
                stderr=log,
                start_new_session=True,  # its own process group: the kill reaches every worker
            )
        if not wait_until(self.answers, timeout_s, interval_s=0.2):
            raise RuntimeError(f"ingest did not start; its log ends:\n{self.log_tail()}")
        self.workers = _children(self._proc.pid)
        return time.monotonic() - started

    def answers(self) -> bool:
        assert self._proc is not None
        if self._proc.poll() is not None:
            raise RuntimeError(f"ingest exited with {self._proc.returncode}:\n{self.log_tail()}")
        try:
            with urllib.request.urlopen(f"{self.url}/healthz", timeout=2):  # noqa: S310 (a local URL)
                return True
        except urllib.error.HTTPError:
            return True  # it answers (the log may be down)
        except (urllib.error.URLError, OSError):
            return False

    def kill(self) -> list[int]:
        """SIGKILL the master and its workers; the pids killed."""
        assert self._proc is not None
        pids = [self._proc.pid, *_children(self._proc.pid)]
        with contextlib.suppress(ProcessLookupError):
            os.killpg(self._proc.pid, signal.SIGKILL)
        self._proc.wait(30)
        assert wait_until(lambda: not any(_alive(pid) for pid in pids), 30), f"still alive after SIGKILL: {pids}"
        self._proc = None
        return pids

    def stop(self) -> None:
        if self._proc is not None and self._proc.poll() is None:
            self.kill()

    def log_tail(self, chars: int = 3000) -> str:
        return self.log_path.read_text(errors="replace")[-chars:] if self.log_path.exists() else ""


def _children(pid: int) -> list[int]:
    found = []
    with contextlib.suppress(OSError):
        for task in Path(f"/proc/{pid}/task").iterdir():
            found += [int(child) for child in (task / "children").read_text().split()]
    return found


def _alive(pid: int) -> bool:
    """Running, not a zombie (a killed worker stays a zombie until init reaps it)."""
    try:
        return Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[0] != "Z"
    except (OSError, IndexError):
        return False


@dataclass
class Posted:
    """What one API client saw."""

    accepted: list[str] = field(default_factory=list)  # event ids answered 202, in order
    statuses: Counter[int] = field(default_factory=Counter)  # 0: no answer (connection refused or reset)
    retry_after: list[str] = field(default_factory=list)  # the header of every 503
    unanswered: list[list[str]] = field(default_factory=list)  # batches sent that got no answer
    first_503: float | None = None
    last_503: float | None = None
    accepted_at: list[float] = field(default_factory=list)  # when each 202 came
    batches: list[list[str]] = field(default_factory=list)  # the event ids of each 202, in order
    error: BaseException | None = None


class Client(threading.Thread):
    """An API client posting `batches` of events steadily, one request at a time, with its bearer token.

    A 503 is retried with the same body (the same event ids) after its Retry-After (at most `max_wait_s`);
    with `retry_unanswered` a request that got no answer at all is retried too, else the client stops.
    """

    def __init__(
        self,
        url: str,
        token: str,
        batches: list[list[dict[str, Any]]],
        *,
        pause_s: float = 0.05,
        max_wait_s: float = 5.0,
        retry_unanswered: bool = False,
    ) -> None:
        super().__init__(daemon=True, name=f"client-{token[-4:]}")
        self.url, self.token, self.batches = f"{url}/api/v1/events", token, batches
        self.pause_s, self.max_wait_s, self.retry_unanswered = pause_s, max_wait_s, retry_unanswered
        self.stop = threading.Event()
        self.posted = Posted()

    def run(self) -> None:
        try:
            for batch in self.batches:
                if self.stop.is_set() or not self._send(batch):
                    return
                self.stop.wait(self.pause_s)
        except BaseException as exc:
            self.posted.error = exc

    def _send(self, batch: list[dict[str, Any]]) -> bool:
        """Post until 202 (True), or until an unanswered request ends this client (False)."""
        body = json.dumps(batch).encode()
        ids = [document["event_id"] for document in batch]
        while True:
            request = urllib.request.Request(  # noqa: S310 (a local URL)
                self.url,
                data=body,
                method="POST",
                headers={"Authorization": f"Bearer {self.token}", "Content-Type": "application/json"},
            )
            try:
                with urllib.request.urlopen(request, timeout=60) as response:  # noqa: S310
                    status, answer = response.status, json.loads(response.read())
            except urllib.error.HTTPError as exc:
                status, answer = exc.code, None
                if status == 503:
                    now = time.monotonic()
                    self.posted.first_503 = self.posted.first_503 or now
                    self.posted.last_503 = now
                    self.posted.retry_after.append(exc.headers.get("Retry-After", ""))
                    wait = float(exc.headers.get("Retry-After") or self.max_wait_s)
                exc.close()
            except (urllib.error.URLError, OSError):
                status = 0
            self.posted.statuses[status] += 1
            if status == 202:
                assert answer is not None and answer["event_ids"] == ids, answer
                self.posted.accepted += ids
                self.posted.batches.append(ids)
                self.posted.accepted_at.append(time.monotonic())
                return True
            if status == 503:
                self.stop.wait(min(wait, self.max_wait_s))
                continue  # the same request again: the same event ids
            if status == 0:
                self.posted.unanswered.append(ids)
                if self.retry_unanswered and not self.stop.is_set():
                    self.stop.wait(0.5)
                    continue
                return False
            raise AssertionError(f"unexpected answer {status} to a valid batch")


def broker_pid(data_dir: Path) -> int:
    """The pid of the noida-db server we started on `data_dir` (from its control file), checked."""
    pid = int(json.loads((data_dir / "noida.control.json").read_text())["pid"])
    command = Path(f"/proc/{pid}/cmdline").read_bytes()
    if b"noida" not in command:
        raise RuntimeError(f"pid {pid} is not the broker: {command[:200]!r}")
    return pid


@contextlib.contextmanager
def frozen(pid: int) -> Iterator[None]:
    """The process stopped (SIGSTOP) for the block: its connections stay open but nothing is answered;
    continued (SIGCONT) afterwards, whatever happens inside."""
    os.kill(pid, signal.SIGSTOP)
    try:
        yield
    finally:
        os.kill(pid, signal.SIGCONT)


def postgres_address() -> tuple[str, int]:
    """The host and port of the PostgreSQL server the tests use (IMPACT_TEST_POSTGRES_URL, tests/conftest.py)."""
    from sqlalchemy.engine import make_url

    from tests.conftest import POSTGRES_URL

    url = make_url(POSTGRES_URL)
    host = url.host or str(url.query.get("host") or "") or "127.0.0.1"  # ?host=/run/postgresql: a socket directory
    return host, int(url.port or 5432)


def _pg_cluster(port: int) -> tuple[str, str]:
    """The (version, name) of the local cluster listening on `port`, from `pg_lsclusters`."""
    if not shutil.which("pg_lsclusters") or not shutil.which("pg_ctlcluster"):
        raise FileNotFoundError("pg_lsclusters and pg_ctlcluster (postgresql-common) are needed to restart PostgreSQL")
    listed = subprocess.run(["pg_lsclusters", "--no-header"], capture_output=True, text=True, timeout=30, check=True)
    # Ver Cluster Port Status Owner Data-directory Log-file
    clusters = [line.split() for line in listed.stdout.splitlines() if len(line.split()) >= 4]
    matching = [(version, name, status) for version, name, on_port, status, *_ in clusters if on_port == str(port)]
    if len(matching) > 1:  # several configured on one port: only one can be running on it
        matching = [cluster for cluster in matching if cluster[2] == "online"]
    if len(matching) != 1:
        raise RuntimeError(f"not exactly one local PostgreSQL cluster for port {port}:\n{listed.stdout}")
    version, name, _status = matching[0]
    return version, name


def postgres_ready(host: str | None = None, port: int | None = None) -> bool:
    """Whether the server (by default the tests' one, from IMPACT_TEST_POSTGRES_URL) accepts connections."""
    default_host, default_port = postgres_address()
    command = ["pg_isready", "-q", "-h", host or default_host, "-p", str(port or default_port)]
    ready = subprocess.run(command, check=False, timeout=15)
    return ready.returncode == 0


def pg_ctl(action: str) -> None:
    """`pg_ctlcluster <action>` on the cluster serving the tests' PostgreSQL URL (matched by its port)."""
    version, name = _pg_cluster(postgres_address()[1])
    command = ["pg_ctlcluster", "--skip-systemctl-redirect", version, name, action]
    done = subprocess.run(command, capture_output=True, text=True, timeout=120, check=False)
    if done.returncode != 0 and action != "stop":
        raise RuntimeError(f"{' '.join(command)}: {done.stdout} {done.stderr}")


@contextlib.contextmanager
def postgres_back_up(timeout_s: float = 60) -> Iterator[None]:
    """Whatever happens inside (a test failing mid-restart), PostgreSQL is running and ready afterwards."""
    try:
        yield
    finally:
        if not postgres_ready():
            with contextlib.suppress(Exception):
                pg_ctl("start")
            wait_until(postgres_ready, timeout_s, interval_s=0.2)


def restart_postgres(timeout_s: float = 60) -> float:
    """A real restart of the PostgreSQL server (every connection dropped); seconds until it accepts again."""
    started = time.monotonic()
    pg_ctl("restart")
    if not wait_until(postgres_ready, timeout_s, interval_s=0.1):
        raise RuntimeError("PostgreSQL did not come back after the restart")
    return time.monotonic() - started


def wait_until(condition: Callable[[], bool], timeout_s: float, interval_s: float = 0.01) -> bool:
    """Poll `condition` until it holds (True) or `timeout_s` passes (False)."""
    deadline = time.monotonic() + timeout_s
    while not condition():
        if time.monotonic() >= deadline:
            return False
        time.sleep(interval_s)
    return True


if __name__ == "__main__":
    _serve()
