"""The `impact` command: run everything, or one service, seed demo data, manage the database."""

from __future__ import annotations

import logging
import os
import signal
import subprocess
import sys
import threading
import time
from datetime import UTC, datetime
from types import FrameType
from typing import TYPE_CHECKING, Any, NoReturn

import click

from impact.settings import Environment, LogBackend, Settings

if TYPE_CHECKING:
    from sqlalchemy import Engine


def _settings() -> Settings:
    """The process's settings; passwords are hashed the way they say from here on (workers inherit it)."""
    from impact.auth.accounts import configure

    settings = Settings()
    configure(settings)
    return settings


def _database(settings: Settings) -> Engine:
    """The read-model database engine, its tables migrated to the newest revision first (Alembic)."""
    from impact.db import engine_for, upgrade

    engine = engine_for(settings)
    upgrade(engine)
    return engine


def _logging(service: str) -> None:
    from impact.logs import configure

    configure(service)  # JSON lines on stderr; chatty libraries (alembic, Great Expectations) at WARNING


def _exit_at_once(code: int = 0) -> NoReturn:
    """Exit once the work is done and closed, without tearing down every module: with pandas and Great
    Expectations loaded the interpreter's own finalisation takes seconds, and a stop (Ctrl-C) waits for it."""
    logging.shutdown()
    sys.stdout.flush()
    sys.stderr.flush()
    os._exit(code)


@click.group()
def main() -> None:
    """Involvement Impact: record involvement, see its influence, tell people the difference they made."""


@main.command()
def ingest() -> None:
    """Serve the ingest API and staff forms with gunicorn."""
    from impact.serve import serve

    settings = _settings()
    _logging("ingest")
    _database(settings).dispose()  # migrate before the workers fork; each opens its own engine
    serve("ingest:create_app()", settings.host, settings.ingest_port, settings.workers, service="ingest")


@main.command()
def dashboard() -> None:
    """Serve the dashboard with gunicorn."""
    from impact.serve import serve

    settings = _settings()
    _logging("dashboard")
    _database(settings).dispose()  # migrate before the workers fork; each opens its own engine
    serve(
        "dashboard:create_app().server", settings.host, settings.dashboard_port, settings.workers, service="dashboard"
    )


@main.command()
@click.option("--until-caught-up", is_flag=True, help="Exit once every event in the log is processed.")
def process(until_caught_up: bool) -> None:
    """Run the processor: validate events, fold them into the read models, and send feedback to participants."""
    from impact.eventlog import open_event_log
    from processors.consumer import Processor
    from processors.health import serve_health

    settings = _settings()
    _logging("processor")
    stop = threading.Event()

    def _stop(_signum: int, _frame: FrameType | None) -> None:
        stop.set()

    signal.signal(signal.SIGTERM, _stop)
    signal.signal(signal.SIGINT, _stop)
    engine = _database(settings)
    processor = Processor.for_settings(settings, engine=engine, event_log=open_event_log(settings))
    if not until_caught_up:
        from processors.feedback import FeedbackSender

        # Its own log client: the consumer's is not shared across threads.
        sender = FeedbackSender.for_settings(settings, engine=engine, event_log=open_event_log(settings))
        threading.Thread(target=sender.run, args=(stop,), name="feedback", daemon=True).start()
        serve_health(
            processor.health, settings.processor_health_host, settings.processor_health_port, lambda: sender.last_error
        )
    processor.run(
        stop, batch_size=settings.batch_size, poll_timeout_ms=settings.poll_timeout_ms, until_caught_up=until_caught_up
    )
    engine.dispose()
    _exit_at_once()


@main.command()
def replay() -> None:
    """Drop every read model and rebuild it from the start of the log (stop the processor first)."""
    from impact.eventlog import open_event_log
    from processors.consumer import Processor

    settings = _settings()
    _logging("replay")
    engine = _database(settings)
    with open_event_log(settings) as event_log:
        total = sum(event_log.end_positions(settings.topic).values())
        processor = Processor.for_settings(settings, engine=engine, event_log=event_log)
        with click.progressbar(length=total, label="Replaying events", file=sys.stderr) as bar:
            processor.replay(
                batch_size=settings.batch_size, poll_timeout_ms=settings.poll_timeout_ms, progress=bar.update
            )
    engine.dispose()
    click.echo(f"replayed {total:,} events into fresh read models")


@main.command()
@click.option("--force", is_flag=True, help="Append the demo events even if the log already has events.")
def seed(force: bool) -> None:
    """Append a year of realistic demo events for several organisations (once)."""
    count = _seed(_settings(), force=force)
    click.echo(f"seeded {count} demo events" if count else "the log already has events; not seeding (use --force)")


def _seed(settings: Settings, *, force: bool = False) -> int:
    from impact.db import create_tables, engine_for
    from impact.demo import seed_demo
    from impact.eventlog import open_event_log

    engine = engine_for(settings)  # receipts, and the keys that seal personal fields
    create_tables(engine)
    with open_event_log(settings) as event_log:
        if not force and any(event_log.end_positions(settings.topic).values()):
            return 0
        count = seed_demo(event_log, settings.topic, engine=engine, today=datetime.now(UTC).date())
    engine.dispose()
    return count


@main.command("import")
@click.argument("file", type=click.Path(exists=True, dir_okay=False, readable=True))
@click.option("--org", "org_id", required=True, help="The organisation's short name (the file has no org column).")
@click.option(
    "--kind",
    type=click.Choice(["participants", "attendance", "contributions"]),
    default=None,
    help="What the file holds; told from its header row when left out.",
)
def import_file(file: str, org_id: str, kind: str | None) -> None:
    """Import a spreadsheet (CSV or .xlsx) of participants, attendance or contributions: every row or none."""
    from pathlib import Path

    settings = _settings()
    engine = _database(settings)
    try:
        _import(settings, engine, Path(file), org_id, kind)
    finally:
        engine.dispose()


def _import(settings: Settings, engine: Any, path: Any, org_id: str, kind: str | None) -> None:
    from sqlmodel import Session

    from impact.auth.accounts import Organisation
    from impact.eventlog import LogUnavailable, open_event_log
    from impact.eventlog.recording import ReusedEventId
    from ingest import importing

    with Session(engine) as session:
        if session.get(Organisation, org_id) is None:
            raise click.ClickException(f"there is no organisation '{org_id}' (create it with `impact org create`)")
    try:
        table = importing.read_table(path.read_bytes(), path.name)
        with click.progressbar(length=len(table.rows), label="Checking rows", file=sys.stderr) as bar:
            checked = importing.check(
                table, org_id=org_id, engine=engine, kind=importing.Kind(kind) if kind else None, progress=bar.update
            )
    except importing.FileProblem as exc:
        raise click.ClickException(f"{exc} Nothing was imported.") from exc
    if checked.errors:
        for error in checked.errors:
            click.echo(str(error), err=True)
        lines = checked.bad_lines
        click.echo(
            f"{path.name}: {lines:,} {'row has' if lines == 1 else 'rows have'} problems; nothing was imported.",
            err=True,
        )
        sys.exit(1)
    try:
        with (
            open_event_log(settings) as event_log,
            click.progressbar(length=len(checked.chunks()), label="Saving", file=sys.stderr) as bar,
        ):
            importing.append(
                checked, event_log, settings.topic, recorded_by="import:cli", engine=engine, progress=bar.update
            )
    except LogUnavailable as exc:
        raise click.ClickException(
            f"the event log did not confirm the write ({exc}); run the same command again with the same file: "
            "what was already saved is not saved twice"
        ) from exc
    except ReusedEventId as exc:
        raise click.ClickException("this file is being imported at the same moment elsewhere; try again later") from exc
    click.echo(checked.summary())


@main.group()
def db() -> None:
    """Manage the read-model database."""


@db.command("upgrade")
def db_upgrade() -> None:
    """Create or migrate every table to the newest revision (Alembic; safe to run again)."""
    _database(_settings()).dispose()
    click.echo("the database is up to date")


def _accounts_session() -> Any:
    from sqlmodel import Session

    return Session(_database(_settings()))


def _account_step(action: Any) -> Any:
    """Run one accounts action in a transaction; its refusal becomes a clear error and exit code 1."""
    from impact.auth.accounts import AccountError

    with _accounts_session() as session:
        try:
            result = action(session)
        except AccountError as exc:
            raise click.ClickException(str(exc)) from exc
        session.commit()
        return result


@main.group()
def org() -> None:
    """Manage member organisations."""


@org.command("create")
@click.argument("org_id")
@click.argument("name")
@click.option("--admin-email", default="", help="Also create the organisation's first admin, with this e-mail.")
@click.option("--admin-name", default="", help="The first admin's name as shown in the app.")
@click.option(
    "--operator",
    is_flag=True,
    help="An organisation that runs the platform: its admins may create organisations from /admin/.",
)
@click.option(
    "--temporary-password",
    is_flag=True,
    help="The first admin's password is one you chose for them: they must change it (not needed for your own).",
)
def org_create(
    org_id: str, name: str, admin_email: str, admin_name: str, operator: bool, temporary_password: bool
) -> None:
    """Create an organisation with a short name (ORG_ID, e.g. mind-leeds) and a full NAME.

    With --admin-email, its first admin is created in the same transaction (the password is asked for).
    """
    from impact.auth.accounts import create_organisation, create_organisation_with_admin

    kind = "operator organisation" if operator else "organisation"
    if temporary_password and not admin_email:
        raise click.UsageError("--temporary-password is about the first admin: give --admin-email too")
    if not admin_email:
        _account_step(lambda session: create_organisation(session=session, org_id=org_id, name=name, operator=operator))
        click.echo(f"created {kind} {org_id}")
        return
    password = click.prompt("Password for the first admin", hide_input=True, confirmation_prompt=True)
    _account_step(
        lambda session: create_organisation_with_admin(
            session=session,
            org_id=org_id,
            name=name,
            admin_email=admin_email,
            admin_name=admin_name,
            password=password,
            must_change_password=temporary_password,
            operator=operator,
        )
    )
    click.echo(f"created {kind} {org_id} and its admin {admin_email.strip().lower()}")


@main.group()
def account() -> None:
    """Manage staff accounts."""


@account.command("create")
@click.option("--org", "org_id", required=True, help="The organisation's short name.")
@click.option("--email", required=True)
@click.option("--name", default="", help="The person's name as shown in the app.")
@click.option("--role", type=click.Choice(["staff", "leadership", "admin"]), default="staff", show_default=True)
@click.password_option(help="At least 12 characters; asked for when not given.")
def account_create(org_id: str, email: str, name: str, role: str, password: str) -> None:
    """Create a staff account in an organisation."""
    from impact.auth.accounts import create_account

    _account_step(
        lambda session: create_account(
            session=session, org_id=org_id, email=email, name=name, role=role, password=password
        )
    )
    click.echo(f"created {role} account {email.strip().lower()} in {org_id}")


@main.group()
def token() -> None:
    """Manage API tokens."""


@token.command("create")
@click.option("--org", "org_id", required=True, help="The organisation's short name.")
@click.option("--name", required=True, help="What uses the token, e.g. 'case management system'.")
def token_create(org_id: str, name: str) -> None:
    """Issue an API token; its secret is printed once and never stored."""
    from impact.auth.tokens import issue_token

    issued = _account_step(lambda session: issue_token(session=session, org_id=org_id, name=name)[1])
    click.echo(issued)


@token.command("revoke")
@click.option("--org", "org_id", required=True)
@click.argument("token_id", type=int)
def token_revoke(org_id: str, token_id: int) -> None:
    """Revoke an API token at once."""
    from impact.auth.tokens import revoke_token

    _account_step(lambda session: revoke_token(session=session, org_id=org_id, token_id=token_id))
    click.echo(f"revoked token {token_id}")


@main.command()
@click.option("--no-seed", is_flag=True, help="Start without demo data.")
def run(no_seed: bool) -> None:
    """Start ingest, processor and dashboard on this machine, with demo data."""
    settings = _settings()
    if settings.event_log != LogBackend.embedded:
        click.echo("note: `impact run` is meant for the embedded default; using the configured Kafka log")
    engine = _database(settings)
    demo_sign_in = ""
    if not no_seed:
        count = _seed(settings)
        click.echo(f"seeded {count} demo events" if count else "demo data already present")
        if settings.env != Environment.production:
            from sqlmodel import Session

            from impact.demo.accounts import DEMO_PASSWORD, demo_accounts

            with Session(engine) as session:
                accounts = demo_accounts(session)
                session.commit()
            first = {role: email for email, role in reversed(accounts)}
            demo_sign_in = f"  sign in as       {first['admin']} (or staff@…, leadership@…), password {DEMO_PASSWORD}\n"
    # Each child in its own session: Ctrl-C reaches this process only, and each child gets one SIGTERM from it
    # (a signal to the whole group at once made gunicorn's arbiter and workers stop each other twice over).
    children: dict[str, subprocess.Popen[Any]] = {
        name: subprocess.Popen([sys.executable, "-m", "impact.cli", name], start_new_session=True)  # noqa: S603
        for name in ("process", "ingest", "dashboard")
    }
    stopping = False

    def _stop(_signum: int, _frame: FrameType | None) -> None:
        nonlocal stopping
        stopping = True

    signal.signal(signal.SIGTERM, _stop)
    signal.signal(signal.SIGINT, _stop)
    exit_code = 0
    try:
        host = "localhost" if settings.host in {"127.0.0.1", "0.0.0.0"} else settings.host  # noqa: S104
        click.echo(
            "\nInvolvement Impact is starting:\n"
            f"  dashboard        http://{host}:{settings.dashboard_port}/\n"
            f"  staff pages      http://{host}:{settings.ingest_port}/\n"
            f"  ingest API       http://{host}:{settings.ingest_port}/api/v1/events\n"
            f"  processor health http://{host}:{settings.processor_health_port}/healthz\n"
            f"{demo_sign_in}"
            "Press Ctrl-C to stop.\n"
        )
        while not stopping:
            for name, child in children.items():
                if child.poll() is not None:
                    click.echo(f"{name} stopped with exit code {child.returncode}; stopping the others", err=True)
                    stopping, exit_code = True, 1
            time.sleep(0.1)
    finally:
        _stop_all(children)  # the children are in sessions of their own: nothing else stops them
    sys.exit(exit_code)


def _stop_all(children: dict[str, subprocess.Popen[Any]], *, grace_s: float = 5.0) -> None:
    """SIGTERM to every child once, then wait for them together; a child still running after `grace_s` is killed."""
    for child in children.values():
        if child.poll() is None:
            child.terminate()
    deadline = time.monotonic() + grace_s
    for name, child in children.items():
        try:
            child.wait(timeout=max(0.0, deadline - time.monotonic()))
        except subprocess.TimeoutExpired:
            click.echo(f"{name} did not stop within {grace_s:.0f} s; killing it", err=True)
            child.kill()
            child.wait()


if __name__ == "__main__":
    main()
