"""Run every benchmark, collect its figures and write them, each with its baseline, ratio and aim, as Markdown.

Each benchmark runs as its own process (`bench/<name>.py`, as one would run it by hand), and ends its
output with a `BENCH-RESULT <name> <json>` line that this script reads; everything else it prints is
echoed. A benchmark that fails is reported as failed and the rest still run. Every figure is a ratio
against a baseline measured in the same run (the machine is shared: absolute rates drift with others'
work, ratios much less), so the table gives both and the aim each is held to.

Run: `.venv/bin/python bench/all.py [--write PATH] [--quick] [--only NAME ...]`
(the report goes to docs/operations/benchmarks-latest.md unless `--write` names another path; `--quick` runs
each briefly, to check that everything works.)
"""

from __future__ import annotations

import argparse
import json
import math
import os
import platform
import sqlite3
import subprocess
import sys
import threading
import time
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

HERE = Path(__file__).resolve().parent
ROOT = HERE.parent
POSTGRES_URL = "postgresql+psycopg://postgres@127.0.0.1:5432/test"
REPORT = ROOT / "docs" / "operations" / "benchmarks-latest.md"  # what `make bench` writes; docs link to it

# name: (full arguments, --quick arguments, timeout in s)
BENCHMARKS: dict[str, tuple[list[str], list[str], float]] = {
    "ingest_wsgi": (["--log", "both"], ["--log", "embedded", "--seconds", "2", "--rounds", "2"], 600),
    "freshness": ([], ["--seconds", "8", "--trickle-seconds", "4"], 400),
    "replay": (["--events", "40000"], ["--events", "8000"], 600),
    "processing": (
        ["--events", "20000", "--batch-size", "2000", "--no-profile"],
        ["--events", "5000", "--batch-size", "2000", "--no-profile", "--stack", "embedded"],
        900,
    ),
    "dashboard": (["--events", "200000", "--repeat", "15"], ["--events", "30000", "--repeat", "5"], 900),
    "feedback": ([], ["--messages", "100", "--people", "2000", "--repeat", "2"], 600),
    "search": ([], ["--participants", "20000", "--repeat", "10"], 900),
}


@dataclass
class Outcome:
    name: str
    command: str
    seconds: float
    result: Any = None
    error: str = ""
    tail: list[str] = field(default_factory=list)


def run(name: str, arguments: list[str], timeout_s: float) -> Outcome:
    command = [sys.executable, f"bench/{name}.py", *arguments]
    shown = " ".join(["bench/" + name + ".py", *arguments])
    print(f"\n=== {shown}", flush=True)
    started = time.perf_counter()
    lines: list[str] = []
    result: Any = None
    proc = subprocess.Popen(command, cwd=ROOT, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
    assert proc.stdout is not None
    watchdog = threading.Timer(timeout_s, proc.kill)  # a stuck benchmark is stopped, and the rest still run
    watchdog.start()
    try:
        for line in proc.stdout:
            if line.startswith(f"BENCH-RESULT {name} "):
                result = json.loads(line.split(" ", 2)[2])
                continue
            print(line, end="", flush=True)
            lines.append(line.rstrip("\n"))
        proc.wait(timeout=60)
    finally:
        watchdog.cancel()
        if proc.poll() is None:
            proc.kill()
            proc.wait()
    seconds = time.perf_counter() - started
    error = ""
    if proc.returncode != 0:
        error = f"exited with {proc.returncode}" + (
            f" after the {timeout_s:.0f} s limit" if seconds > timeout_s else ""
        )
    elif result is None:
        error = "printed no BENCH-RESULT line"
    return Outcome(name, shown, seconds, result, error, lines[-15:])


# --- The machine ---------------------------------------------------------------------------------------------


def cpu_model() -> str:
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor() or "unknown"


def memory_total() -> str:
    try:
        for line in Path("/proc/meminfo").read_text().splitlines():
            if line.startswith("MemTotal:"):
                return f"{int(line.split()[1]) / 1024 / 1024:.1f} GiB"
    except OSError:
        pass
    return "unknown"


def postgres_version() -> str:
    try:
        from sqlalchemy import create_engine, text

        engine = create_engine(POSTGRES_URL)
        with engine.connect() as conn:
            found = str(conn.execute(text("SHOW server_version")).scalar_one())
        engine.dispose()
        return found
    except Exception as exc:
        return f"not reachable ({type(exc).__name__})"


def loads() -> str:
    return ", ".join(f"{x:.2f}" for x in os.getloadavg())


def commit() -> str:
    found = subprocess.run(
        ["git", "describe", "--always", "--dirty"], cwd=ROOT, capture_output=True, text=True, check=False
    )
    return found.stdout.strip() or "unknown"


# --- The table -------------------------------------------------------------------------------------------------

Row = tuple[str, str, str, str, str, str]  # benchmark, figure, baseline, ratio, aim, verdict


def _n(value: float, unit: str = "") -> str:
    if value is None or (isinstance(value, float) and math.isnan(value)):
        return "n/a"
    return f"{value:,.0f}{unit}" if abs(value) >= 10 else f"{value:,.2f}{unit}"


def _ratio(a: float, b: float) -> float:
    return a / b if b and not math.isnan(b) and not math.isnan(a) else float("nan")


def _verdict(ok: bool | None) -> str:
    return "—" if ok is None else ("met" if ok else "**missed**")


def rows_for(outcome: Outcome) -> list[Row]:
    r = outcome.result
    rows: list[Row] = []
    if outcome.name == "ingest_wsgi":
        for log in ("embedded", "kafka"):
            if log not in r:
                continue
            single, batch = r[log]["single"], r[log]["batch"]
            rows.append(
                (
                    f"Ingest under gunicorn, one event per request ({log} log)",
                    _n(single["events"], " ev/s"),
                    f"trivial route of the same server {_n(single['noop'], ' req/s')}",
                    f"{single['ratio']:.2f}",
                    "≥ 0.5",
                    _verdict(single["ratio"] >= 0.5),
                )
            )
            rows.append(
                (
                    f"Ingest under gunicorn, batches of 500 ({log} log)",
                    _n(batch["api"], " ev/s"),
                    f"the producer alone (`record`, same log) {_n(batch['producer'], ' ev/s')}"
                    + (
                        f" (with receipts and sealing, no HTTP: {_n(batch['with_receipts'], ' ev/s')})"
                        if "with_receipts" in batch
                        else ""
                    ),
                    f"{batch['ratio']:.2f}",
                    "≥ 0.70",
                    _verdict(batch["ratio"] >= 0.70),
                )
            )
    elif outcome.name == "freshness":
        rows.append(
            (
                f"Freshness, 202 to read model, p95 at {_n(r['rate_achieved'])} ev/s (asked {_n(r['rate_asked'])})",
                f"{r['p95_s'] * 1000:,.0f} ms (p50 {r['p50_s'] * 1000:,.0f} ms)",
                f"p95 at a trickle of {_n(r['trickle_rate'])} ev/s: {r['trickle_p95_s'] * 1000:,.0f} ms",
                f"{r['ratio_p95']:.2f}",
                "p95 < 2 s",
                _verdict(r["p95_s"] < 2 and r["missing"] == 0),
            )
        )
        for service, peak in r["memory_peak_mb"].items():
            idle = r["memory_idle_mb"][service]
            rows.append(
                (
                    f"Peak memory under that load: {service}",
                    f"{peak:,.0f} MB",
                    f"idle just after start {idle:,.0f} MB",
                    f"{_ratio(peak, idle):.2f}",
                    "none set",
                    "—",
                )
            )
    elif outcome.name == "replay":
        rows.append(
            (
                f"Replay: `impact replay` of {r['events']:,} events, command wall time",
                _n(r["command_rate"], " ev/s"),
                f"raw consume + decode of the log {_n(r['raw'], ' ev/s')}",
                f"{r['ratio_command']:.2f}",
                "none set (processing: ≥ 0.5)",
                "—",
            )
        )
        rows.append(
            (
                "Replay: the replay loop alone (`Processor.replay`, in-process)",
                _n(r["loop_rate"], " ev/s"),
                f"raw consume + decode {_n(r['raw'], ' ev/s')}",
                f"{r['ratio_loop']:.2f}",
                "≥ 0.5 (as processing)",
                _verdict(r["ratio_loop"] >= 0.5),
            )
        )
        rows.append(
            (
                "Replay: peak RSS of `impact replay`",
                f"{r['rss_mb']:,.0f} MB",
                f"`impact replay` of an empty log {r['rss_empty_mb']:,.0f} MB",
                f"{_ratio(r['rss_mb'], r['rss_empty_mb']):.2f}",
                "none set",
                "—",
            )
        )
    elif outcome.name == "processing":
        for run_ in r:
            ratio = _ratio(run_["processed"], run_["raw"])
            rows.append(
                (
                    f"Processor, {run_['stack']}, batch {run_['batch_size']}",
                    _n(run_["processed"], " ev/s"),
                    f"raw consume + decode {_n(run_['raw'], ' ev/s')}",
                    f"{ratio:.2f}",
                    "≥ 0.5",
                    _verdict(ratio >= 0.5),
                )
            )
    elif outcome.name == "dashboard":
        aim = r["aim_ms"]
        slowest = max(r["pages"], key=lambda page: page["p95"])
        rows.append(
            (
                f"Dashboard, slowest page (or CSV, report) p95: {slowest['page']}",
                f"{slowest['p95']:,.0f} ms",
                f"same request, organisation with no rows: {slowest['empty_p95']:,.0f} ms",
                f"{_ratio(slowest['p95'], slowest['empty_p95']):.1f}",
                f"p95 < {aim:.0f} ms",
                _verdict(all(page["p95"] < aim for page in r["pages"])),
            )
        )
    elif outcome.name == "feedback":
        d, p = r["delivery"], r["plan"]
        rows.append(
            (
                f"Feedback sender, {d['sent']:,} e-mails to a local SMTP server",
                _n(d["sender"], " msg/s"),
                f"bare smtplib, same messages {_n(d['raw'], ' msg/s')}",
                f"{_ratio(d['sender'], d['raw']):.2f}",
                "none set",
                "—",
            )
        )
        rows.append(
            (
                f"Feedback plan, {r['people']:,} participants, nothing new owed",
                f"{p['closed'] * 1000:,.0f} ms (first plan {p['first'] * 1000:,.0f} ms)",
                f"`SELECT count(*)` of contributionparticipant {p['baseline'] * 1000:,.1f} ms",
                f"{_ratio(p['closed'], p['baseline']):.1f}",
                "none set",
                "—",
            )
        )
    elif outcome.name == "search":
        for kind, run_ in r.items():
            for case, got in run_["cases"].items():
                rows.append(
                    (
                        f"Staff pages, {run_['participants']:,} participants ({kind}): {case}, p95",
                        f"{got['p95_ms']:,.0f} ms",
                        f"participants list of 20 people {got['baseline_p95_ms']:,.0f} ms",
                        f"{got['ratio']:.1f}",
                        "none set",
                        "—",
                    )
                )
    return rows


HOW = {
    "ingest_wsgi": (
        "The ingest app served by gunicorn through `impact.serve` (as `impact ingest`: gthread, 4 threads, 2 workers)"
        " with one extra route `/bench/noop` (204). Single events: 2 client processes x 4 persistent HTTP/1.1"
        " connections (http.client) posting one `activity.held` each, in rounds alternating with the same clients"
        " posting to the trivial route. Batches: 2 connections posting 500 events a request, in rounds alternating with"
        " this process calling `impact.eventlog.recording.record` (no receipts or sealing) on pre-validated events"
        " into the same log. Kafka: a noida-db broker started for the run, 3 partitions, `acks=all`."
    ),
    "freshness": (
        "`impact process` and `impact dashboard` as subprocesses beside the gunicorn ingest, embedded log + SQLite."
        " A clock posts 50 events every 50 ms from 4 connections for 25 s; each event's time from its 202 to its id"
        " appearing in `processedevent` (polled every 20 ms). Baseline: the same pipeline fed 10 events/s, one per"
        " request, for 10 s before and 10 s after (pooled). During the load one signed-in connection opens a"
        " dashboard page every 250 ms."
        " Memory: VmHWM (peak RSS) from /proc summed over each service's processes (gunicorn master + workers; shared"
        " pages count per process) at the end of the load (it includes start-up peaks), beside their VmRSS idle"
        " after start."
    ),
    "replay": (
        "bench/processing.py's event mix in an embedded log; `impact replay` run as a command (wall time to exit, which"
        " includes several seconds of start-up: imports, migrations check, Great Expectations) and"
        " `Processor.replay` in-process with a warmed gate; baseline `processing.raw_rate` before and after, averaged."
    ),
    "processing": (
        "bench/processing.py: `Processor.run` until caught up on a fresh read-model database, beside a consumer of the"
        " same log reading and decoding every event (before and after, averaged); embedded + SQLite and Kafka +"
        " PostgreSQL; 20,000 events, batches of 2,000."
    ),
    "dashboard": (
        "bench/dashboard.py on SQLite with read models as if from 200,000 events (4 charities of 50,000): each page's"
        " callback with four filter variants, 15 timed requests each through the Flask test client, alternating with"
        " the same request for an organisation with no rows."
    ),
    "feedback": (
        "bench/feedback.py on SQLite: `FeedbackSender.tick()` until 500 owed e-mails are sent to aiosmtpd, each tick's"
        " batch re-sent with bare smtplib right after (baseline); the plan over 20,000 participants beside a"
        " `SELECT count(*)`."
    ),
    "search": (
        "bench/search.py: one organisation with 100,000 participants (and a neighbour's 20,000 in the same tables),"
        " its staff pages through the Flask test client on SQLite and PostgreSQL: each search, list page, picker search"
        " and form timed alternately with the baseline, the participants list of an organisation of 20 people."
    ),
}


def markdown(outcomes: list[Outcome], facts: dict[str, str], quick: bool) -> str:
    out = ["# Benchmarks", ""]
    out.append(
        "Written by `make bench` (`bench/all.py`). Every figure stands beside a baseline measured in the same run on"
        " the same machine, and the ratio between them is what to compare across runs: the machine is shared, so"
        " absolute rates move with other people's work."
        + (" **This was a `--quick` run: short, for checking only.**" if quick else "")
    )
    out += ["", "## The machine", "", "| | |", "|---|---|"]
    out += [f"| {key} | {value} |" for key, value in facts.items()]
    out += [
        "",
        "## Figures",
        "",
        "| benchmark | figure | baseline | ratio | aim | aim met |",
        "|---|---|---|---|---|---|",
    ]
    for outcome in outcomes:
        if outcome.error:
            out.append(f"| {outcome.name} | failed: {outcome.error} | | | | |")
            continue
        try:
            rows = rows_for(outcome)
        except (KeyError, TypeError, ValueError) as exc:
            out.append(f"| {outcome.name} | its summary could not be read ({exc}) | | | | |")
            continue
        out += ["| " + " | ".join(row) + " |" for row in rows]
    out += [
        "",
        "## How each was measured",
        "",
        "(Sizes below are a full run's; each line's command shows this run's.)",
        "",
    ]
    for outcome in outcomes:
        out.append(f"- **{outcome.name}** (`{outcome.command}`, {outcome.seconds:.0f} s): {HOW[outcome.name]}")
        if outcome.error:
            out.append("  Its last lines:\n\n  ```\n" + "\n".join("  " + line for line in outcome.tail) + "\n  ```")
    out.append("")
    return "\n".join(out)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n", 1)[0] if __doc__ else None)
    parser.add_argument(
        "--write",
        metavar="PATH",
        type=Path,
        default=REPORT,
        help=f"write the Markdown report here (default {REPORT.relative_to(ROOT)})",
    )
    parser.add_argument("--quick", action="store_true", help="run each benchmark briefly")
    parser.add_argument("--only", nargs="*", choices=list(BENCHMARKS), default=[], help="run only these")
    args = parser.parse_args()
    started, load_start = time.perf_counter(), loads()
    date = datetime.now(UTC).strftime("%Y-%m-%d %H:%M UTC")
    outcomes = []
    for name, (full, quick, timeout_s) in BENCHMARKS.items():
        if args.only and name not in args.only:
            continue
        outcomes.append(run(name, quick if args.quick else full, timeout_s))
    facts = {
        "date": date,
        "commit": commit(),
        "CPU": f"{cpu_model()}, {os.cpu_count()} cores",
        "RAM": memory_total(),
        "OS": platform.platform(),
        "Python": platform.python_version(),
        "SQLite": sqlite3.sqlite_version,
        "PostgreSQL": postgres_version(),
        "load average (1, 5, 15 min) at the start": load_start,
        "load average at the end": loads(),
        "total run time": f"{time.perf_counter() - started:.0f} s",
    }
    report = markdown(outcomes, facts, args.quick)
    print("\n" + report)
    args.write.write_text(report)
    print(f"written to {args.write}")
    if any(outcome.error for outcome in outcomes):
        sys.exit(1)


if __name__ == "__main__":
    main()
