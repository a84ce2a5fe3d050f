"""Dashboard callbacks at scale: the p50 and p95 time to serve each page, from read models of N events.

Aim (the issue): each page's callback at p95 under 300 ms with read models built from 1 million events,
under 500 ms from 10 million, the time growing far slower than the number of events.

Read models: bench/readmodels.py writes the rows the processors would build from N events, for many
member charities at once (default: one organisation per 50,000 events, so 1M events = 20 charities and
10M = 200: the platform grows by members; `--organisations 20` at 10M makes each member ten times busier
instead). The measured organisation is the largest (the first; equal shares, it takes the remainder).

Measured: for each page of `dashboard.shell.PAGES` and four filter variants (the default twelve months;
the last three calendar months; one area; one level), `POST /_dash-update-component` with the body the
browser sends on opening the page's URL, through the Flask test client of `create_app`, signed in as the
organisation's leadership: `--warmup` requests, then `--repeat` timed ones. Also the CSV export of one
table, `/report` (when it exists: a 404 is reported, not failed) and `/healthz`.

Baseline, in the same run: the same request (page, filters, app, database, process) for an organisation
with no rows at all, signed in as its leadership, timed alternately with the measured one so drift on a
shared machine hits both. It is everything a page costs whatever the data: the session and account
lookup, Dash's dispatch, one round trip per query (each finds nothing through the same indexes of the
same big tables), building the components and the Plotly figures, JSON. The ratio measured / baseline
says how many times that fixed cost the organisation's data adds; the p95 in ms is what the aim is about.
`/healthz` (one `SELECT 1` behind Flask) is printed as the floor of the web stack.

Wall time is what the aim is about; the CPU time of this process is printed beside it, because on a
shared machine the wall time also holds other people's work (for SQLite it holds the queries' work too;
for PostgreSQL that is in the server's processes, not here). A cell that takes longer than `--budget`
seconds stops once it has 10 timed pairs.

Pages (and URLs) over the aim are profiled: one request with every SQL statement timed (the slowest
statements, and the plan of the slowest single one: PostgreSQL EXPLAIN (ANALYZE, BUFFERS), SQLite
EXPLAIN QUERY PLAN), then one under cProfile (the project's functions by cumulative time). `--try-index
"CREATE INDEX ..."` measures with an extra index (dropped again at the end), to test a suggestion.

Run: `.venv/bin/python bench/dashboard.py --events 1000000 --database sqlite|postgresql [--organisations N]
[--keep PATH]` (`--keep`: SQLite file or PostgreSQL database name to keep, and to reuse when its shape
matches; otherwise a temporary file, or a database `bench_dashboard` created and dropped).
"""

from __future__ import annotations

import sys
from pathlib import Path

# Run as a script, this file's folder (bench/) leads sys.path, and this file would shadow the `dashboard`
# package it measures: put the project root first instead.
HERE = Path(__file__).resolve().parent
sys.path[:] = [str(HERE.parent)] + [entry for entry in sys.path if Path(entry or ".").resolve() != HERE]

import argparse  # noqa: E402
import cProfile  # noqa: E402
import json  # noqa: E402
import os  # noqa: E402
import platform  # noqa: E402
import pstats  # noqa: E402
import re  # noqa: E402
import statistics  # noqa: E402
import tempfile  # noqa: E402
import time  # noqa: E402
from collections.abc import Callable, Iterator  # noqa: E402
from contextlib import contextmanager  # noqa: E402
from dataclasses import dataclass, field  # noqa: E402
from datetime import date  # noqa: E402
from typing import Any, cast  # noqa: E402

from flask.testing import FlaskClient  # noqa: E402
from sqlalchemy import Engine, create_engine, event, text  # noqa: E402
from sqlalchemy.engine import make_url  # noqa: E402
from sqlmodel import Session  # noqa: E402

from bench.readmodels import Shape, analyze, load  # noqa: E402
from dashboard import create_app, shell  # noqa: E402
from dashboard.filters import parse_search  # noqa: E402
from impact.auth.accounts import Organisation, Role, create_account, create_organisation  # noqa: E402
from impact.db import create_tables, make_engine  # noqa: E402
from impact.months import add_months  # noqa: E402
from impact.settings import Environment, Settings  # noqa: E402

POSTGRES_ADMIN_URL = "postgresql+psycopg://postgres@127.0.0.1:5432/postgres"
DATABASE_NAME = "bench_dashboard"
EVENTS_PER_ORGANISATION = 50_000  # the default shape: one member charity per 50,000 events
EMPTY_ORG = "bench-empty"
PASSWORD = "bench passphrase, long enough for the rules"  # noqa: S105  (two bench accounts)
CALLBACK = "/_dash-update-component"
MARKER = "bench_shape"  # a table saying which shape a kept database holds
_CSRF = re.compile(r'name="csrf_token" value="([^"]+)"')


def aim_ms(events: int) -> float:
    return 300.0 if events <= 1_000_000 else 500.0


def p95(samples: list[float]) -> float:
    if len(samples) < 2:
        return samples[0] if samples else float("nan")
    return statistics.quantiles(samples, n=20, method="inclusive")[18]


def p50(samples: list[float]) -> float:
    return statistics.median(samples) if samples else float("nan")


# --- The machine and the database ------------------------------------------------------------------------


def machine() -> str:
    memory = ""
    try:
        for line in Path("/proc/meminfo").read_text().splitlines():
            if line.startswith("MemTotal:"):
                memory = f", {int(line.split()[1]) / 1024 / 1024:.0f} GB memory"
    except OSError:
        pass
    loads = ", ".join(f"{value:.2f}" for value in os.getloadavg())
    return (
        f"{platform.node()}: {os.cpu_count()} cores{memory}, load average {loads} (1, 5, 15 min); "
        f"Python {platform.python_version()}"
    )


def database_facts(engine: Engine) -> str:
    with engine.connect() as conn:
        if engine.dialect.name == "postgresql":
            version = conn.execute(text("SHOW server_version")).scalar_one()
            settings = {
                name: conn.execute(text(f"SHOW {name}")).scalar_one()
                for name in ("shared_buffers", "work_mem", "effective_cache_size", "max_parallel_workers_per_gather")
            }
            size = conn.execute(text("SELECT pg_database_size(current_database())")).scalar_one()
            shown = ", ".join(f"{name} {value}" for name, value in settings.items())
            return f"PostgreSQL {version} (server defaults untouched: {shown}); database {size / 2**30:.2f} GB"
        version = conn.execute(text("SELECT sqlite_version()")).scalar_one()
        path = engine.url.database or ""
        size = Path(path).stat().st_size if path and Path(path).exists() else 0
        return f"SQLite {version}, WAL; file {size / 2**30:.2f} GB"


def _same_shape(engine: Engine, shape: Shape) -> bool:
    try:
        with engine.connect() as conn:
            kept = conn.execute(text(f"SELECT shape FROM {MARKER}")).scalar_one_or_none()  # noqa: S608
    except Exception:  # no marker table: not a database this script made
        return False
    return kept == shape.describe()


def _mark(engine: Engine, shape: Shape) -> None:
    with engine.begin() as conn:
        conn.execute(text(f"CREATE TABLE {MARKER} (shape VARCHAR(400))"))
        conn.execute(text(f"INSERT INTO {MARKER} (shape) VALUES (:shape)"), {"shape": shape.describe()})  # noqa: S608


@contextmanager
def sqlite_database(keep: str | None) -> Iterator[str]:
    if keep:
        yield f"sqlite:///{Path(keep).resolve()}"
        return
    with tempfile.TemporaryDirectory(prefix="bench-dashboard-") as folder:
        yield f"sqlite:///{Path(folder) / 'readmodels.db'}"


@contextmanager
def postgres_database(admin_url: str, keep: str | None, shape: Shape) -> Iterator[str]:
    """A database of its own on the server (created here; dropped at the end unless kept)."""
    name = keep or DATABASE_NAME
    if not re.fullmatch(r"[a-z_][a-z0-9_]*", name):
        raise SystemExit(f"--keep for PostgreSQL is a database name (lower case, digits, _), not {name!r}")
    url = make_url(admin_url).set(database=name).render_as_string(hide_password=False)
    admin = create_engine(admin_url, isolation_level="AUTOCOMMIT")
    try:
        with admin.connect() as conn:
            exists = conn.execute(text("SELECT 1 FROM pg_database WHERE datname = :n"), {"n": name}).first()
        if exists and keep:
            probe = create_engine(url)
            reuse = _same_shape(probe, shape)
            probe.dispose()
            if not reuse:
                print(f"database {name} holds another shape: dropping it")
        else:
            reuse = False
        if exists and not reuse:
            with admin.connect() as conn:
                conn.execute(text(f'DROP DATABASE "{name}" WITH (FORCE)'))
        if not reuse:
            with admin.connect() as conn:
                conn.execute(text(f'CREATE DATABASE "{name}"'))
        yield url
    finally:
        if not keep:
            with admin.connect() as conn:
                conn.execute(text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
        admin.dispose()


def prepare(engine: Engine, shape: Shape) -> None:
    """The read models of `shape` (unless the database already holds them), and two leadership accounts."""
    if _same_shape(engine, shape):
        print(f"reusing the kept database: {shape.describe()}")
    else:
        started = time.perf_counter()
        create_tables(engine)
        print(f"tables made by the migrations in {time.perf_counter() - started:.1f} s; loading {shape.describe()}")
        loaded = load(engine, shape, progress=lambda line: print(line, flush=True))
        _mark(engine, shape)
        total = sum(loaded.rows.values())
        print(
            f"loaded {loaded.events:,} events' rows ({total:,} rows in all) in {loaded.generate_and_write_s:.1f} s"
            f" ({loaded.events / loaded.generate_and_write_s:,.0f} events/s, generation included); then the"
            f" {loaded.indexes} secondary indexes {loaded.index_s:.1f} s, ANALYZE {loaded.analyze_s:.1f} s:"
            f" {loaded.generate_and_write_s + loaded.index_s + loaded.analyze_s:.1f} s in all"
        )
    create_tables(engine)  # what create_app does too: nothing to do at head
    with Session(engine) as session:
        for org_id, name in ((shape.org_id(0), "Measured Charity"), (EMPTY_ORG, "Empty Charity")):
            if session.get(Organisation, org_id) is None:
                create_organisation(session=session, org_id=org_id, name=name)
                create_account(
                    session=session,
                    org_id=org_id,
                    email=leader(org_id),
                    name=f"Leader of {name}",
                    role=Role.leadership,
                    password=PASSWORD,
                )
        session.commit()


def try_indexes(engine: Engine, statements: list[str]) -> list[str]:
    """The experiment's extra indexes, made (and the tables analysed) before measuring; their names."""
    names = []
    for sql in statements:
        found = re.match(r"\s*CREATE\s+(?:UNIQUE\s+)?INDEX\s+(?:IF NOT EXISTS\s+)?\"?(\w+)\"?", sql, re.IGNORECASE)
        if not found:
            raise SystemExit(f"--try-index takes a CREATE INDEX statement, not {sql!r}")
        started = time.perf_counter()
        with engine.begin() as conn:
            conn.execute(text(sql))
        names.append(found.group(1))
        print(f"experiment: {sql} ({time.perf_counter() - started:.1f} s); dropped again at the end")
    if names:
        analyze(engine)
    return names


def leader(org_id: str) -> str:
    return f"leadership@{org_id}.example.org"


def row_counts(engine: Engine, org_id: str) -> str:
    tables = ("processedevent", "deadletter", "participant", "activity", "attendance", "contribution")
    tables += ("contributionparticipant", "change", "changelink", "feedback")
    parts = []
    with engine.connect() as conn:
        for table in tables:
            everyone = conn.execute(text(f'SELECT count(*) FROM "{table}"')).scalar_one()  # noqa: S608
            mine = conn.execute(
                text(f'SELECT count(*) FROM "{table}" WHERE org_id = :org'),  # noqa: S608
                {"org": org_id},
            ).scalar_one()
            parts.append(f"  {table:24} {everyone:>12,} rows   measured organisation {mine:>10,}")
    return "\n".join(parts)


# --- Requests ------------------------------------------------------------------------------------------


def signed_in(app: Any, email: str) -> FlaskClient:
    client: FlaskClient = app.server.test_client()
    page = client.get("/login")
    found = _CSRF.search(page.get_data(as_text=True))
    if not found:
        raise SystemExit(f"no CSRF token on /login ({page.status_code})")
    response = client.post("/login", data={"email": email, "password": PASSWORD, "csrf_token": found.group(1)})
    if response.status_code != 302:
        raise SystemExit(
            f"signing in as {email} failed: {response.status_code} {response.get_data(as_text=True)[:300]}"
        )
    return client


class RequestFailed(RuntimeError):
    pass


Timing = tuple[float, float]  # (wall, this process's CPU) in ms


def callback(client: FlaskClient, path: str, search: str) -> Timing:
    """One callback request as the browser sends it on opening `path?search`: its wall and CPU time in ms."""
    body = shell.callback_body(path, search)
    started, cpu = time.perf_counter(), time.process_time()
    response = client.post(CALLBACK, json=body)
    elapsed = ((time.perf_counter() - started) * 1000, (time.process_time() - cpu) * 1000)
    if response.status_code != 200:
        raise RequestFailed(f"{path}{search}: {response.status_code} {response.get_data(as_text=True)[:300]}")
    if shell.UNAVAILABLE in response.get_data(as_text=True):  # the page caught a database error: not a timing
        raise RequestFailed(f"{path}{search}: the page said the figures are unavailable (a database error; see log)")
    return elapsed


def get(client: FlaskClient, url: str) -> tuple[int, Timing]:
    started, cpu = time.perf_counter(), time.process_time()
    response = client.get(url)
    elapsed = ((time.perf_counter() - started) * 1000, (time.process_time() - cpu) * 1000)
    response.close()
    return response.status_code, elapsed


@dataclass
class Cell:
    """One page (or URL) with one filter variant: the measured organisation's and the empty one's times."""

    page: str
    variant: str
    measured: list[float] = field(default_factory=list)
    baseline: list[float] = field(default_factory=list)
    cpu: list[float] = field(default_factory=list)  # the measured requests' CPU time in this process
    first: float = float("nan")  # the measured organisation's first request (warm-up included)
    note: str = ""
    url: str = ""  # for a URL rather than a page's callback


def variants(today: date) -> list[tuple[str, str]]:
    """(name, search): the default twelve months; the last three calendar months; one area; one level."""
    three = f"?from={add_months(today, -2).isoformat()}&to={today.isoformat()}"
    return [("12 months", ""), ("3 months", three), ("area", "?area=involvement"), ("level", "?level=co_production")]


def timed(
    cell: Cell,
    one: Any,
    measured: FlaskClient,
    baseline: FlaskClient,
    warmup: int,
    repeat: int,
    budget_s: float,
) -> Cell:
    """Warm-up requests, then `repeat` timed pairs, alternating which organisation goes first."""
    for n in range(warmup):
        wall, _cpu = one(measured)
        if n == 0:
            cell.first = wall
        one(baseline)
        if wall > budget_s * 1000 / 20:  # a request of seconds is warm after one: keep the budget for timing
            break
    started = time.perf_counter()
    for n in range(repeat):
        if n % 2 == 0:
            wall, cpu = one(measured)
            cell.baseline.append(one(baseline)[0])
        else:
            cell.baseline.append(one(baseline)[0])
            wall, cpu = one(measured)
        cell.measured.append(wall)
        cell.cpu.append(cpu)
        if time.perf_counter() - started > budget_s and n + 1 >= 10:
            cell.note = f"stopped after {n + 1} of {repeat}: over the {budget_s:.0f} s budget"
            break
    return cell


def measure_pages(
    measured: FlaskClient, baseline: FlaskClient, today: date, args: argparse.Namespace
) -> tuple[list[Cell], list[str]]:
    cells, failures = [], []
    pages = [page for page in shell.PAGES if not args.pages or page.slug in args.pages]
    for name, search in variants(today):
        for page in pages:
            cell = Cell(page.slug, name)

            def one(client: FlaskClient, path: str = page.path, search: str = search) -> Timing:
                return callback(client, path, search)

            try:
                timed(cell, one, measured, baseline, args.warmup, args.repeat, args.budget)
            except RequestFailed as problem:
                failures.append(str(problem))
                continue
            cells.append(cell)
            print(
                f"  {page.slug:10} {name:10} p95 {p95(cell.measured):8.1f} ms   empty organisation"
                f" {p95(cell.baseline):7.1f} ms   (n={len(cell.measured)}) {cell.note}",
                flush=True,
            )
    return cells, failures


def measure_urls(
    measured: FlaskClient, baseline: FlaskClient, engine: Engine, org_id: str, today: date, args: argparse.Namespace
) -> list[Cell]:
    """The CSV export of one table, the annual report and the health check (404: not there yet, reported)."""
    filters = parse_search("", today)
    urls: list[tuple[str, str]] = []
    export = None
    for page in shell.PAGES:  # the first table of the first page that has one (as built for the reader)
        with engine.connect() as conn:
            tables = page.build(conn, filters, org_id).tables()
        if tables:
            export = f"/export/{page.slug}/{tables[0].key}.csv{filters.search()}"
            break
    if export:
        urls.append(("CSV export", export))
    urls.append(("report", f"/report{filters.search()}"))
    cells = []
    for name, url in urls:
        status, _ = get(measured, url)
        if status != 200:
            cells.append(Cell(name, "12 months", note=f"{url}: HTTP {status}, not measured"))
            continue

        def one(client: FlaskClient, url: str = url) -> Timing:
            status, elapsed = get(client, url)
            if status != 200:
                raise RequestFailed(f"{url}: HTTP {status}")
            return elapsed

        cell = Cell(name, "12 months", note=url.split("?")[0], url=url)
        try:
            cells.append(timed(cell, one, measured, baseline, args.warmup, args.repeat, args.budget))
        except RequestFailed as problem:
            cells.append(Cell(name, "12 months", note=str(problem)))
    health = Cell("/healthz", "-", note="the web stack's floor: one SELECT 1")
    for _ in range(args.warmup):
        get(measured, "/healthz")
    for _ in range(max(args.repeat, 100)):
        _status, (wall, cpu) = get(measured, "/healthz")
        health.measured.append(wall)
        health.cpu.append(cpu)
    cells.append(health)
    return cells


# --- Reporting ---------------------------------------------------------------------------------------------


def print_table(cells: list[Cell], aim: float, cpu_note: str) -> list[str]:
    """The figures per page and variant, then per page over all variants; returns the pages over the aim."""
    header = (
        f"  {'page':11} {'filters':9} {'n':>3} {'first':>7} {'p50':>7} {'p95':>7} {'cpu p95':>7} |"
        f" {'empty p50':>9} {'p95':>6} | {'ratio':>6} {'extra':>7}  aim {aim:.0f} ms"
    )
    print(header)
    print("  " + "-" * (len(header) - 2))
    for cell in cells:
        if not cell.measured:
            print(f"  {cell.page:11} {cell.variant:9} {cell.note}")
            continue
        mine = f"{len(cell.measured):3d} {cell.first:7.1f} {p50(cell.measured):7.1f} {p95(cell.measured):7.1f}"
        mine += f" {p95(cell.cpu):7.1f}"
        if not cell.baseline:
            print(f"  {cell.page:11} {cell.variant:9} {mine} | {'':>9} {'':>6} | {'':>6} {'':>7}  {cell.note}")
            continue
        verdict = "meets" if p95(cell.measured) < aim else "MISSES"
        print(
            f"  {cell.page:11} {cell.variant:9} {mine} | {p50(cell.baseline):9.1f} {p95(cell.baseline):6.1f} |"
            f" {p95(cell.measured) / p95(cell.baseline):5.1f}x {p95(cell.measured) - p95(cell.baseline):7.1f}"
            f"  {verdict} {cell.note}"
        )
    print(
        "  (first: the first request, before warm-up; cpu: this process's CPU time, which holds SQLite's work but"
        f" not PostgreSQL's; {cpu_note}; ratio = p95 / empty organisation's p95; extra = their difference)"
    )
    over, summary = [], []
    pages = list(dict.fromkeys(cell.page for cell in cells if cell.measured and cell.baseline))
    print("\n  each page over all its filter variants (the aim is about this p95):")
    for page in pages:
        mine_all = [sample for cell in cells if cell.page == page for sample in cell.measured]
        theirs = [sample for cell in cells if cell.page == page for sample in cell.baseline]
        cpu = [sample for cell in cells if cell.page == page for sample in cell.cpu]
        verdict = "meets the aim" if p95(mine_all) < aim else "MISSES the aim"
        if p95(mine_all) >= aim:
            over.append(page)
        print(
            f"  {page:11} n {len(mine_all):4d}  p50 {p50(mine_all):7.1f} ms  p95 {p95(mine_all):7.1f} ms"
            f"  (cpu p95 {p95(cpu):7.1f})   empty organisation p95 {p95(theirs):6.1f} ms"
            f"   ratio {p95(mine_all) / p95(theirs):5.1f}x   {verdict}"
        )
        summary.append({"page": page, "p50": p50(mine_all), "p95": p95(mine_all), "empty_p95": p95(theirs)})
    print(f"BENCH-RESULT dashboard {json.dumps({'aim_ms': aim, 'pages': summary})}")  # for bench/all.py
    return over


# --- Profiling a slow page ---------------------------------------------------------------------------------


@dataclass
class Statement:
    sql: str
    calls: int = 0
    total_ms: float = 0.0
    slowest_ms: float = 0.0
    slowest_parameters: Any = None


def profile_request(engine: Engine, title: str, request: Callable[[], float], top: int) -> None:
    """Where one request's time goes: every SQL statement timed (the slowest, and the plan of the slowest
    single one), then a second request under cProfile (the project's functions by cumulative time, and
    the hottest functions of all by own time; cProfile inflates Python-heavy code)."""
    statements: dict[str, Statement] = {}
    starts: list[float] = []

    def before(conn: Any, cursor: Any, statement: str, parameters: Any, context: Any, executemany: bool) -> None:
        starts.append(time.perf_counter())

    def after(conn: Any, cursor: Any, statement: str, parameters: Any, context: Any, executemany: bool) -> None:
        elapsed = (time.perf_counter() - starts.pop()) * 1000
        found = statements.setdefault(statement, Statement(statement))
        found.calls += 1
        found.total_ms += elapsed
        if elapsed > found.slowest_ms:
            found.slowest_ms, found.slowest_parameters = elapsed, parameters

    event.listen(engine, "before_cursor_execute", before)
    event.listen(engine, "after_cursor_execute", after)
    try:
        wall = request()
    finally:
        event.remove(engine, "before_cursor_execute", before)
        event.remove(engine, "after_cursor_execute", after)
    sql_ms = sum(found.total_ms for found in statements.values())
    calls = sum(found.calls for found in statements.values())
    print(
        f"\n  {title}: {wall:.0f} ms in all; SQL {sql_ms:.0f} ms over {calls} statements"
        f" ({len(statements)} distinct); the rest ({wall - sql_ms:.0f} ms) is Python: Dash, building, rendering"
    )
    ranked = sorted(statements.values(), key=lambda found: -found.total_ms)[:top]
    for rank, found in enumerate(ranked, start=1):
        flat = " ".join(found.sql.split())
        print(
            f"  #{rank} {found.total_ms:8.1f} ms in {found.calls:3d} calls (slowest {found.slowest_ms:.1f} ms):"
            f" {flat[:700]}{'…' if len(flat) > 700 else ''}"
        )
    if ranked and ranked[0].slowest_ms >= 5:
        slowest = max(statements.values(), key=lambda found: found.slowest_ms)
        explain = "EXPLAIN (ANALYZE, BUFFERS) " if engine.dialect.name == "postgresql" else "EXPLAIN QUERY PLAN "
        print(
            f"  plan of the slowest single statement ({slowest.slowest_ms:.1f} ms),"
            f" parameters {slowest.slowest_parameters}:"
        )
        with engine.connect() as conn:
            rows = conn.exec_driver_sql(explain + slowest.sql, slowest.slowest_parameters).all()
        for row in rows[:120]:
            print("    " + " | ".join(str(value) for value in row))

    profiler = cProfile.Profile()
    profiler.enable()
    request()
    profiler.disable()
    stats = pstats.Stats(profiler)
    entries = cast(dict[Any, Any], stats.stats)  # type: ignore[attr-defined]
    root = str(HERE.parent)
    total = max((cumulative for (_calls, _n, _own, cumulative, _callers) in entries.values()), default=0.0)
    print(f"  under cProfile ({total * 1000:.0f} ms): the project's functions by cumulative time")
    ours = [
        (cumulative, own, calls, key)
        for key, (calls, _n, own, cumulative, _callers) in entries.items()
        if key[0].startswith(root) and "/bench/" not in key[0] and "/.venv/" not in key[0]
    ]
    for cumulative, own, calls, key in sorted(ours, reverse=True)[: top + 4]:
        print(f"    {cumulative * 1000:8.1f} ms cum {own * 1000:7.1f} ms own {calls:6d} calls  {_where(key, root)}")
    print("  the hottest functions of all, by own time")
    hottest = sorted(entries.items(), key=lambda item: -item[1][2])[:top]
    for key, (calls, _n, own, cumulative, _callers) in hottest:
        print(f"    {own * 1000:8.1f} ms own {cumulative * 1000:7.1f} ms cum {calls:6d} calls  {_where(key, root)}")


def _where(key: tuple[str, int, str], root: str) -> str:
    filename, line, name = key
    if filename.startswith(root):
        filename = filename[len(root) + 1 :]
    elif "site-packages/" in filename:
        filename = filename.split("site-packages/", 1)[1]
    return f"{filename}:{line} {name}" if line else name


# --- Main ----------------------------------------------------------------------------------------------------


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n", 1)[0] if __doc__ else None)
    parser.add_argument("--events", type=int, default=100_000, help="events the read models are built from")
    parser.add_argument("--database", choices=("sqlite", "postgresql"), default="sqlite")
    parser.add_argument(
        "--organisations",
        type=int,
        default=0,
        help=f"member charities sharing the events (default: one per {EVENTS_PER_ORGANISATION:,} events)",
    )
    parser.add_argument("--keep", help="SQLite file / PostgreSQL database to keep, and to reuse if it has this shape")
    parser.add_argument("--postgres-url", default=POSTGRES_ADMIN_URL, help="a database to create and drop others from")
    parser.add_argument("--repeat", type=int, default=30, help="timed requests per page and filters (default 30)")
    parser.add_argument("--warmup", type=int, default=3, help="untimed requests first (default 3)")
    parser.add_argument("--budget", type=float, default=120.0, help="seconds per page and filters, then stop (>= 10)")
    parser.add_argument("--pages", nargs="*", default=[], help="only these page slugs")
    parser.add_argument("--seed", type=int, default=7)
    parser.add_argument("--years", type=int, default=5)
    parser.add_argument("--profile", action="store_true", help="profile every page, not only those over the aim")
    parser.add_argument("--top", type=int, default=6, help="statements shown per profiled page")
    parser.add_argument(
        "--try-index",
        action="append",
        default=[],
        metavar="SQL",
        help="an experiment: `CREATE INDEX name ON ...` made before measuring (then ANALYZE), dropped at the end",
    )
    args = parser.parse_args()

    today = date.today()
    organisations = args.organisations or max(1, round(args.events / EVENTS_PER_ORGANISATION))
    shape = Shape(events=args.events, organisations=organisations, today=today, years=args.years, seed=args.seed)
    org_id = shape.org_id(0)
    aim = aim_ms(args.events)
    print(f"machine: {machine()}")
    print(f"shape: {shape.describe()}; measured organisation {org_id}")

    if args.database == "sqlite":
        database = sqlite_database(args.keep)
    else:
        database = postgres_database(args.postgres_url, args.keep, shape)
    with database as url, tempfile.TemporaryDirectory(prefix="bench-dashboard-var-") as var:
        engine = make_engine(url)
        try:
            prepare(engine, shape)
            tried = try_indexes(engine, args.try_index)
            print(database_facts(engine))
            print(row_counts(engine, org_id))
            settings = Settings(env=Environment.test, secret_key="b" * 40, data_dir=Path(var))
            app = create_app(settings, engine)
            measured, baseline = signed_in(app, leader(org_id)), signed_in(app, leader(EMPTY_ORG))
            print(
                f"\nmeasuring ({args.warmup} warm-up + {args.repeat} timed requests each;"
                f" load {os.getloadavg()[0]:.2f})"
            )
            cells, failures = measure_pages(measured, baseline, today, args)
            cells += measure_urls(measured, baseline, engine, org_id, today, args)
            print(
                f"\n{args.database}, {shape.describe()}: time to serve, ms (wall time in the Flask test client);"
                f" baseline = the same request for an organisation with no rows; load {os.getloadavg()[0]:.2f}"
            )
            over = print_table(cells, aim, f"load average {os.getloadavg()[0]:.2f} on {os.cpu_count()} cores")
            for failure in failures:
                print(f"  FAILED: {failure}")
            pages = {page.slug: page for page in shell.PAGES if not args.pages or page.slug in args.pages}
            for cell_page in dict.fromkeys(cell.page for cell in cells if cell.measured and cell.baseline):
                if not (args.profile or cell_page in over):
                    continue
                worst = max((c for c in cells if c.page == cell_page and c.measured), key=lambda c: p95(c.measured))
                if cell_page in pages:
                    search = dict(variants(today))[worst.variant]

                    def page_request(path: str = pages[cell_page].path, search: str = search) -> float:
                        return callback(measured, path, search)[0]

                    title = f"{cell_page} {search or '(12 months)'}"
                    profile_request(engine, title, page_request, args.top)
                elif worst.url:

                    def url_request(url: str = worst.url) -> float:
                        return get(measured, url)[1][0]

                    profile_request(engine, f"{cell_page} {worst.url}", url_request, args.top)
        finally:
            if args.try_index:
                with engine.begin() as conn:
                    for name in tried:
                        conn.execute(text(f'DROP INDEX IF EXISTS "{name}"'))
            engine.dispose()


if __name__ == "__main__":
    main()
