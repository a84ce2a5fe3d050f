"""The feedback sender's cost, as ratios against baselines of the same run: delivery rate and plan cost.

1. Delivery: N participants (one contribution each, linked 50 at a time to decided changes, consenting
   to e-mail) are owed a message each; `FeedbackSender.tick()` runs until all are sent to a local aiosmtpd
   server that takes everything. Baseline: the same messages, flattened beforehand, sent again with bare
   smtplib (one connection each, as SmtpMailer), each tick's batch right after its tick so that drift on a
   shared machine hits both. The tick splits into SMTP (SmtpMailer.send, flattening included), record
   (`outbox.record`: the feedback.sent appends) and the rest (plan, claim, compose, link, outbox updates).
2. Plan: `FeedbackSender.plan(now)` on read models of `--people` participants built the same way, all but
   N already told (a feedback row and a sent outbox row): the first plan (adds N rows), then with nothing
   new owed, the N rows still open and then closed. Baseline: `SELECT count(*)` over contributionparticipant.

Rows are inserted directly (no events, no processor); the embedded log is in a temp dir. SQLite: temp files,
no ANALYZE (as in service). PostgreSQL: `bench_feedback_*` schemas, ANALYZEd after the load, dropped after.
Run: `.venv/bin/python bench/feedback.py [--database sqlite|postgresql] [--messages N] [--people P]`
"""

from __future__ import annotations

import argparse
import json
import os
import smtplib
import socket
import statistics
import tempfile
import time
import uuid
from collections.abc import Callable, Iterator
from contextlib import contextmanager, nullcontext
from datetime import UTC, date, datetime, timedelta
from email.message import EmailMessage
from email.utils import parseaddr
from functools import partial
from pathlib import Path
from typing import Any

from aiosmtpd.controller import Controller
from aiosmtpd.handlers import Sink
from sqlalchemy import Engine, Table, create_engine, delete, func, select, text, update

from impact.db import create_tables, make_engine
from impact.eventlog import open_event_log
from impact.feedback import outbox
from impact.feedback.outbox import ITEMS, FeedbackItem, State
from impact.settings import Settings
from processors.feedback import MESSAGES_PER_TICK, FeedbackSender
from processors.mail import SmtpMailer
from schemas.readmodels import Change, ChangeLink, Contribution, ContributionParticipant, Feedback, Participant

POSTGRES_URL = "postgresql+psycopg://postgres@127.0.0.1:5432/test"
ORG = "bench-carers"
PER_CHANGE = 50  # contributions linked to each decided change
DAY = date.today() - timedelta(days=30)
WORDS = "Please send the papers a week before the meeting, in large print, so that we can all prepare properly. " * 2


def table(model: type[Any]) -> Table:
    return model.__table__  # type: ignore[no-any-return]


def build(engine: Engine, people: int, owed: int) -> None:
    """`people` participants, one contribution each, linked to decided changes; all but the last `owed` told."""
    now, pids = datetime.now(UTC), [f"p{i:07d}" for i in range(people)]
    pairs = [(pid, f"ch{i // PER_CHANGE:05d}") for i, pid in enumerate(pids)]
    told = [(str(uuid.uuid4()), pid, ch) for pid, ch in pairs[: people - owed]]
    decided, ago = DAY + timedelta(days=5), now - timedelta(days=90)
    rows: list[tuple[type[Any], str, list[tuple[Any, ...]]]] = [
        (Participant, "org_id participant_id display_name role email consent_to_contact preferred_channel "
         "feedback_frequency registered_at erased", [
            (ORG, p, f"Person {p}", "carer", f"{p}@people.example.org", True, "email", "each_change", ago, False)
            for p in pids]),
        (Contribution, "org_id contribution_id area text made_on", [
            (ORG, f"c{p}", "research", WORDS, DAY) for p in pids]),
        (ContributionParticipant, "org_id contribution_id participant_id", [(ORG, f"c{p}", p) for p in pids]),
        (Change, "org_id change_id area title description status recorded_on decided_on", [
            (ORG, ch, "research", f"Papers a week ahead ({ch})", "Papers now go a week before each meeting.",
             "agreed", DAY, decided) for ch in sorted({ch for _, ch in pairs})]),
        (ChangeLink, "org_id change_id contribution_id strength", [(ORG, ch, f"c{p}", "major") for p, ch in pairs]),
        (Feedback, "event_id change_id org_id participant_id channel sent_at", [
            (e, ch, ORG, p, "email", now) for e, p, ch in told]),
        (FeedbackItem, "org_id participant_id change_id decided_on state channel found_at due_at attempts "
         "message_id sent_at recorded", [
            (ORG, p, ch, decided, "sent", "email", now, now, 1, e, now, True) for e, p, ch in told]),
    ]  # fmt: skip
    with engine.begin() as conn:
        for model, columns, values in rows:
            names = columns.split()
            for first in range(0, len(values), 5000):
                conn.execute(
                    table(model).insert(), [dict(zip(names, v, strict=True)) for v in values[first : first + 5000]]
                )
    if engine.dialect.name == "postgresql":  # only this schema's tables (search_path): nobody else's
        with engine.begin() as conn:
            conn.execute(text("ANALYZE " + ", ".join(f'"{table(model).name}"' for model, _, _ in rows)))


class TimedMailer(SmtpMailer):
    """SmtpMailer, keeping each message and the time spent sending."""

    def __init__(self, port: int) -> None:
        super().__init__("127.0.0.1", port, security="none", username="", password="", timeout=30.0)
        self.seconds, self.messages = 0.0, list[EmailMessage]()

    def send(self, message: EmailMessage) -> None:
        self.seconds += timed(partial(super().send, message))[0]
        self.messages.append(message)


def raw_send(port: int, messages: list[EmailMessage]) -> float:
    """Seconds to send these messages, flattened beforehand, with bare smtplib: one connection each."""
    flat = [(parseaddr(str(m["From"]))[1], parseaddr(str(m["To"]))[1], flatten(m)) for m in messages]
    started = time.perf_counter()
    for sender, to, body in flat:
        with smtplib.SMTP("127.0.0.1", port, timeout=30.0) as client:
            client.sendmail(sender, [to], body)
    return time.perf_counter() - started


def flatten(message: EmailMessage) -> bytes:
    return message.as_bytes(policy=message.policy.clone(linesep="\r\n"))  # as smtplib.send_message does


def timed(action: Callable[[], Any]) -> tuple[float, Any]:
    started = time.perf_counter()
    result = action()
    return time.perf_counter() - started, result


def delivery(sender: FeedbackSender, mailer: TimedMailer, port: int, n: int) -> dict[str, float]:
    tick_s, raw_s, record_s, sent, ticks, real_record = 0.0, 0.0, [0.0], 0, 0, outbox.record

    def record(*args: Any, **kwargs: Any) -> int:
        seconds, recorded = timed(lambda: real_record(*args, **kwargs))
        record_s[0] += seconds
        return int(recorded)

    outbox.record = record  # the sender calls outbox.record: time it in place
    try:
        while sent < n and ticks < n // MESSAGES_PER_TICK + 10:
            seconds, done = timed(sender.tick)
            tick_s, sent, ticks = tick_s + seconds, sent + done.sent, ticks + 1
            raw_s += raw_send(port, mailer.messages[len(mailer.messages) - done.sent :])  # the same, right after
    finally:
        outbox.record = real_record
    size = statistics.mean(len(flatten(m)) for m in mailer.messages) if mailer.messages else 0
    raw, rate = sent / raw_s, sent / tick_s
    print(f"delivery: {sent:,} of {n:,} messages sent in {ticks} ticks (MESSAGES_PER_TICK {MESSAGES_PER_TICK}),")
    print(f"  average message {size:,.0f} bytes, to aiosmtpd (Sink) on 127.0.0.1, one connection per message")
    print(f"  {'':46} {'msg/s':>9} {'ms/msg':>8} {'ratio':>6}")
    for name, value in (("raw smtplib, same messages (baseline)", raw), ("FeedbackSender.tick() until all sent", rate)):
        print(f"  {name:46} {value:9,.0f} {1000 / value:8.2f} {value / raw:6.2f}")
    for name, seconds in (
        ("of which SMTP (SmtpMailer.send)", mailer.seconds),
        ("of which record (feedback.sent appends)", record_s[0]),
        ("of which the rest (plan, claim, compose, DB)", tick_s - mailer.seconds - record_s[0]),
    ):
        print(f"  {'  ' + name:46} {'':9} {1000 * seconds / max(sent, 1):8.2f} {seconds / tick_s:6.0%} of tick")
    return {"raw": raw, "sender": rate, "sent": sent}


def plan_cost(
    sender: FeedbackSender, engine: Engine, people: int, n: int, repeat: int, budget: float
) -> dict[str, float]:
    def count() -> int:
        with engine.connect() as conn:
            return int(conn.execute(select(func.count()).select_from(table(ContributionParticipant))).scalar_one())

    samples: dict[str, list[float]] = {"baseline": [], "first": [], "open": [], "closed": []}
    planned: list[int] = []
    started = time.perf_counter()
    while not planned or (len(planned) < repeat and time.perf_counter() - started < budget):
        plan = partial(sender.plan, datetime.now(UTC))
        samples["baseline"].append(timed(count)[0])
        seconds, added = timed(plan)
        samples["first"].append(seconds)
        planned.append(added)
        samples["open"].append(timed(plan)[0])
        with engine.begin() as conn:  # as after delivery: the N rows closed
            conn.execute(update(ITEMS).where(ITEMS.c.state == State.queued.value).values(state=State.sent.value))
        samples["baseline"].append(timed(count)[0])
        samples["closed"].append(timed(plan)[0])
        with engine.begin() as conn:  # back to nothing planned for the N, for the next round
            conn.execute(delete(ITEMS).where(ITEMS.c.participant_id >= f"p{people - n:07d}"))
    base = statistics.median(samples["baseline"])
    print(f"plan: {people:,} participants, {n:,} newly owed; median of {len(planned)} (rows added: {planned})")
    print(f"  {'':52} {'ms':>9} {'ratio':>8}")
    for key, name in (
        ("baseline", "SELECT count(*) FROM contributionparticipant"),
        ("first", f"first plan (adds {n:,} rows)"),
        ("open", f"steady plan, nothing new ({n:,} rows still open)"),
        ("closed", "steady plan, nothing new (every row closed)"),
    ):
        median = statistics.median(samples[key])
        print(f"  {name:52} {1000 * median:9.1f} {median / base:8.1f}")
    return {key: statistics.median(values) for key, values in samples.items()}


@contextmanager
def databases(kind: str, folder: Path, postgres_url: str) -> Iterator[Callable[[], Engine]]:
    """A factory of fresh, migrated read-model databases: SQLite files, or PostgreSQL schemas dropped at the end."""
    schemas: list[str] = []
    engines: list[Engine] = []
    admin = create_engine(postgres_url, isolation_level="AUTOCOMMIT")

    def fresh() -> Engine:
        url = f"sqlite:///{folder / f'readmodels-{uuid.uuid4().hex[:8]}.db'}"
        if kind == "postgresql":
            schemas.append(f"bench_feedback_{uuid.uuid4().hex[:12]}")
            with admin.connect() as conn:
                conn.execute(text(f'CREATE SCHEMA "{schemas[-1]}"'))
            url = f"{postgres_url}{'&' if '?' in postgres_url else '?'}options=-csearch_path%3D{schemas[-1]}"
        engines.append(make_engine(url))
        create_tables(engines[-1])
        return engines[-1]

    try:
        yield fresh
    finally:
        for engine in engines:
            engine.dispose()
        with admin.connect() if schemas else nullcontext() as conn:
            for schema in schemas:
                conn.execute(text(f'DROP SCHEMA IF EXISTS "{schema}" CASCADE'))
        admin.dispose()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n", 1)[0] if __doc__ else None)
    parser.add_argument("--database", choices=("sqlite", "postgresql"), default="sqlite")
    parser.add_argument("--messages", type=int, default=500, help="owed messages, one per participant (500)")
    parser.add_argument("--people", type=int, default=20_000, help="participants in the plan's read models (20,000)")
    parser.add_argument("--repeat", type=int, default=5, help="plan measurements, median taken (5)")
    parser.add_argument("--budget", type=float, default=120.0, help="no new plan round after this many s (120)")
    parser.add_argument("--postgres-url", default=POSTGRES_URL, help=f"for --database postgresql ({POSTGRES_URL})")
    args = parser.parse_args()
    n, people = args.messages, max(args.people, args.messages)
    loads = ", ".join(f"{value:.2f}" for value in os.getloadavg())
    print(f"feedback sender on {args.database}; {os.cpu_count()} cores, load average {loads} (1, 5, 15 min)")
    with socket.socket() as sock:  # aiosmtpd's Controller cannot take port 0: find a free one first
        sock.bind(("127.0.0.1", 0))
        port = int(sock.getsockname()[1])
    controller = Controller(Sink(), hostname="127.0.0.1", port=port)
    controller.start()
    summary: dict[str, Any] = {"messages": n, "people": people}
    try:
        with (
            tempfile.TemporaryDirectory(prefix="bench-feedback-") as folder,
            databases(args.database, Path(folder), args.postgres_url) as fresh,
        ):
            for part in ("delivery", "plan"):
                engine = fresh()
                started = time.perf_counter()
                build(engine, n if part == "delivery" else people, n)
                print(f"\n[{part}: read models written in {time.perf_counter() - started:.1f} s, not timed]")
                settings = Settings.model_validate(
                    {"env": "test", "data_dir": Path(folder) / part, "secret_key": "b" * 40,
                     "topic": f"bench-feedback-{uuid.uuid4().hex[:10]}", "public_url": "https://impact.example.org",
                     "database_url": engine.url.render_as_string(hide_password=False),
                     "mail_from": "Bench Carers <feedback@impact.example.org>"}
                )  # fmt: skip
                with open_event_log(settings) as event_log:
                    mailer = TimedMailer(port)
                    sender = FeedbackSender(engine=engine, event_log=event_log, settings=settings, mailer=mailer)
                    if part == "delivery":
                        summary["delivery"] = delivery(sender, mailer, port, n)
                    else:
                        summary["plan"] = plan_cost(sender, engine, people, n, args.repeat, args.budget)
    finally:
        controller.stop()
    loads = ", ".join(f"{value:.2f}" for value in os.getloadavg())
    print(f"\nload average at the end: {loads} (others' work skews every figure; the ratios less so)")
    print(f"BENCH-RESULT feedback {json.dumps(summary)}")  # for bench/all.py


if __name__ == "__main__":
    main()
