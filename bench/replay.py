"""Replay: `impact replay` rebuilding fresh read models from the whole log, beside the raw consume rate of that log.

Events: bench/processing.py's deterministic mix (the demo year of three charities, repeated with fresh ids),
appended to the embedded log of a temporary data directory whose read models (SQLite) are migrated first.
Baseline: bench/processing.py's `raw_rate` (a consumer of its own group reading and decoding every event,
nothing else, batches of IMPACT_BATCH_SIZE), once before and once after the replays, averaged.
Measured, in the same run:
- `impact replay` as a command (a subprocess), wall time to exit, which holds a fixed start-up cost (imports,
  migrations check, Great Expectations' set-up); that cost is measured on its own as `impact replay` of an
  empty log, and the rate net of it is printed too;
- `Processor.replay` in this process with a warmed quality gate: the replay loop alone.
Ratio = replayed events/s / raw consume events/s. Aim (as for live processing): >= 0.5.
Memory: peak RSS of the `impact replay` process (wait4), beside the same command's on the empty log.

Run: `.venv/bin/python bench/replay.py [--events N]`
"""

from __future__ import annotations

import sys
from pathlib import Path

# Run as a script, bench/ leads sys.path and bench/dashboard.py would shadow the `dashboard` package.
HERE = Path(__file__).resolve().parent
sys.path[:] = [str(HERE.parent)] + [entry for entry in sys.path if Path(entry or ".").resolve() != HERE]

import argparse  # noqa: E402
import os  # noqa: E402
import subprocess  # noqa: E402
import tempfile  # noqa: E402
import time  # noqa: E402
from typing import Any  # noqa: E402

from bench.processing import append_all, event_mix, raw_rate, warm_gate  # noqa: E402
from bench.services import ROOT, load_average, result_line  # noqa: E402
from impact.db import engine_for, upgrade  # noqa: E402
from impact.eventlog import open_event_log  # noqa: E402
from impact.settings import Settings  # noqa: E402
from processors.consumer import Processor  # noqa: E402
from processors.quality import QualityGate  # noqa: E402


def settings_for(folder: Path) -> tuple[Settings, dict[str, str]]:
    env = {**os.environ, "IMPACT_ENV": "test", "IMPACT_DATA_DIR": str(folder), "IMPACT_SECRET_KEY": "b" * 40}
    settings = Settings(env="test", data_dir=folder, secret_key="b" * 40)
    engine = engine_for(settings)
    upgrade(engine)
    engine.dispose()
    return settings, env


def command(env: dict[str, str]) -> tuple[float, float]:
    """`impact replay`: (wall seconds to exit, peak RSS in MB)."""
    impact = Path(sys.executable).with_name("impact")
    started = time.perf_counter()
    proc = subprocess.Popen(
        [str(impact), "replay"], env=env, cwd=ROOT, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL
    )
    _pid, status, usage = os.wait4(proc.pid, 0)
    elapsed = time.perf_counter() - started
    proc.returncode = os.waitstatus_to_exitcode(status)
    if proc.returncode != 0:
        raise RuntimeError(f"impact replay exited with {proc.returncode}")
    return elapsed, usage.ru_maxrss / 1024


def in_process(settings: Settings, gate: QualityGate) -> float:
    engine = engine_for(settings)
    try:
        with open_event_log(settings) as log:
            processor = Processor.for_settings(settings, engine=engine, event_log=log, gate=gate)
            started = time.perf_counter()
            processor.replay(batch_size=settings.batch_size, poll_timeout_ms=100)
            return time.perf_counter() - started
    finally:
        engine.dispose()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n", 1)[0] if __doc__ else None)
    parser.add_argument("--events", type=int, default=40_000, help="events in the log (40,000)")
    args = parser.parse_args()
    print(f"load average at the start: {load_average()}")
    events = event_mix(args.events)
    gate = warm_gate()
    with tempfile.TemporaryDirectory(prefix="bench-replay-") as folder:
        empty, empty_env = settings_for(Path(folder) / "empty")
        full, env = settings_for(Path(folder) / "full")
        with open_event_log(full) as log:
            append_all(log, full.topic, events)
            n = len(events)
            print(f"{n:,} events appended; batches of {full.batch_size} (IMPACT_BATCH_SIZE)")
            before = raw_rate(log, full.topic, n, full.batch_size, 100)
            startup, startup_rss = command(empty_env)
            wall, rss = command(env)
            loop = in_process(full, gate)
            after = raw_rate(log, full.topic, n, full.batch_size, 100)
        del empty
    raw = (before + after) / 2
    # Net of start-up only when the replay itself is a fair share of the wall time: otherwise it is noise.
    net = wall - startup if wall > 1.25 * startup else float("nan")
    result: dict[str, Any] = {
        "events": n,
        "raw": raw,
        "raw_before": before,
        "raw_after": after,
        "command_wall_s": wall,
        "command_startup_s": startup,
        "command_rate": n / wall,
        "command_net_rate": n / net,
        "loop_rate": n / loop,
        "ratio_command": n / wall / raw,
        "ratio_command_net": n / net / raw,
        "ratio_loop": n / loop / raw,
        "rss_mb": rss,
        "rss_empty_mb": startup_rss,
    }
    print(f"  raw consume + decode        {raw:9,.0f} ev/s (before {before:,.0f}, after {after:,.0f})")
    print(
        f"  impact replay (command)     {n / wall:9,.0f} ev/s   ratio {result['ratio_command']:.2f}"
        f"   ({wall:.1f} s, of which start-up {startup:.1f} s as on an empty log)"
    )
    print(
        f"  impact replay, net of start {n / net:9,.0f} ev/s   ratio {result['ratio_command_net']:.2f} "
        " (nan: the replay too short beside start-up)"
    )
    print(f"  Processor.replay in-process {n / loop:9,.0f} ev/s   ratio {result['ratio_loop']:.2f}   (aim >= 0.5)")
    print(
        f"  peak RSS of impact replay   {rss:9,.0f} MB  empty log {startup_rss:,.0f} MB   ratio {rss / startup_rss:.2f}"
    )
    print(f"load average at the end: {load_average()}")
    result_line("replay", result)


if __name__ == "__main__":
    main()
