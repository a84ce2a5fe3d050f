"""The `impact` command: `impact run` brings up all three services with demo data, once."""

from __future__ import annotations

import http.cookiejar
import json
import os
import re
import signal
import subprocess
import sys
import time
import urllib.error
import urllib.parse
import urllib.request
from pathlib import Path

import pytest
from sqlalchemy import func, select
from sqlmodel import Session

from impact.auth.accounts import Organisation, StaffAccount
from impact.db import make_engine
from impact.demo.accounts import DEMO_PASSWORD
from schemas.readmodels import Participant, ProcessedEvent
from tests.factories import free_port, get, wait_for

pytestmark = pytest.mark.timeout(240)


def impact_env(data_dir: Path, **extra: str) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("IMPACT_")}
    return env | {"IMPACT_DATA_DIR": str(data_dir), "IMPACT_ENV": "development"} | extra


def signed_in_page(base: str, email: str, password: str, path: str) -> str:
    """Sign in over HTTP as a browser would (cookie, CSRF token) and fetch `path`."""
    opener = urllib.request.build_opener(urllib.request.HTTPCookieProcessor(http.cookiejar.CookieJar()))
    with opener.open(f"{base}/login", timeout=10) as response:
        token = re.search(r'name="csrf_token" value="([^"]+)"', response.read().decode())
    assert token, "the sign-in page has a CSRF token"
    form = urllib.parse.urlencode({"email": email, "password": password, "csrf_token": token.group(1)}).encode()
    try:
        opener.open(f"{base}/login", data=form, timeout=10).close()
    except urllib.error.HTTPError as refused:  # a wrong password is a 401 with the form again
        refused.close()
    with opener.open(f"{base}{path}", timeout=10) as response:
        return str(response.read().decode())


def test_impact_run_serves_everything_with_demo_data(tmp_path: Path) -> None:
    ports = {name: str(free_port()) for name in ("INGEST", "DASHBOARD", "PROCESSOR_HEALTH")}
    env = impact_env(tmp_path / "var", **{f"IMPACT_{name}_PORT": port for name, port in ports.items()})
    log = (tmp_path / "run.log").open("w")
    run = subprocess.Popen(
        [sys.executable, "-m", "impact.cli", "run"], env=env, stdout=subprocess.PIPE, stderr=log, text=True
    )
    try:
        ingest = f"http://127.0.0.1:{ports['INGEST']}"
        dashboard = f"http://127.0.0.1:{ports['DASHBOARD']}"
        health = f"http://127.0.0.1:{ports['PROCESSOR_HEALTH']}/healthz"
        assert wait_for(
            lambda: all(get(u)[0] == 200 for u in (f"{ingest}/healthz", f"{dashboard}/healthz", health)), 120
        )

        engine = make_engine(f"sqlite:///{tmp_path / 'var' / 'impact.db'}")
        with Session(engine) as session:

            def processed() -> int:
                return int(session.execute(select(func.count()).select_from(ProcessedEvent)).scalar_one())

            assert wait_for(lambda: processed() > 2000, 120), "the demo data is processed"
            orgs = session.execute(select(func.count(func.distinct(Participant.org_id)))).scalar_one()
        engine.dispose()
        assert orgs >= 3
        staff_page = signed_in_page(ingest, "staff@mind-leeds.example.org", DEMO_PASSWORD, "/staff/")
        assert "Record involvement" in staff_page and "participants" in staff_page
        assert "Sign in" in signed_in_page(ingest, "staff@mind-leeds.example.org", "wrong password", "/staff/")
        dashboard_page = signed_in_page(dashboard, "leadership@mind-leeds.example.org", DEMO_PASSWORD, "/")
        assert "_dash-app-content" in dashboard_page or "react-entry-point" in dashboard_page
    finally:
        run.send_signal(signal.SIGTERM)
        output, _ = run.communicate(timeout=60)
        log.close()
    assert run.returncode == 0, (output, (tmp_path / "run.log").read_text()[-3000:])
    assert "seeded" in output and f"http://localhost:{ports['DASHBOARD']}/" in output
    assert f"admin@mind-leeds.example.org (or staff@…, leadership@…), password {DEMO_PASSWORD}" in output

    again = subprocess.run(
        [sys.executable, "-m", "impact.cli", "seed"], env=env, capture_output=True, text=True, timeout=60, check=True
    )
    assert "not seeding" in again.stdout, "demo data is seeded once"


def test_organisations_accounts_and_tokens_from_the_command_line(tmp_path: Path) -> None:
    env = impact_env(tmp_path / "var")

    def impact(*args: str, stdin: str = "") -> subprocess.CompletedProcess[str]:
        command = [sys.executable, "-m", "impact.cli", *args]
        return subprocess.run(command, env=env, input=stdin, capture_output=True, text=True, timeout=60, check=False)

    assert impact("org", "create", "mind-leeds", "Mind in Leeds").returncode == 0
    duplicate = impact("org", "create", "mind-leeds", "Again")
    assert duplicate.returncode == 1 and "already exists" in duplicate.stderr
    created = impact(
        "account",
        "create",
        "--org",
        "mind-leeds",
        "--email",
        "ann@example.org",
        "--role",
        "admin",
        stdin="a long enough passphrase\na long enough passphrase\n",
    )
    assert created.returncode == 0, created.stderr
    too_short = impact("account", "create", "--org", "mind-leeds", "--email", "bo@example.org", stdin="short\nshort\n")
    assert too_short.returncode == 1 and "at least 12" in too_short.stderr
    issued = impact("token", "create", "--org", "mind-leeds", "--name", "case system")
    assert issued.returncode == 0 and issued.stdout.startswith("ii_")
    assert impact("token", "revoke", "--org", "mind-leeds", "1").returncode == 0
    assert impact("token", "revoke", "--org", "other-org", "1").returncode == 1
    with_admin = impact(
        "org",
        "create",
        "leeds-carers",
        "Leeds Carers",
        "--admin-email",
        "Bo@Example.org",
        stdin="a long enough passphrase\na long enough passphrase\n",
    )
    assert with_admin.returncode == 0 and "its admin bo@example.org" in with_admin.stdout, with_admin.stderr
    refused = impact(
        "org", "create", "leeds-peers", "Leeds Peers", "--admin-email", "x@example.org", stdin="short\nshort\n"
    )
    assert refused.returncode == 1 and "at least 12" in refused.stderr
    assert impact("org", "create", "leeds-peers", "Leeds Peers").returncode == 0, "the refused one created nothing"

    operator = impact("org", "create", "impact-platform", "Involvement Impact (platform)", "--operator")
    assert operator.returncode == 0 and "created operator organisation impact-platform" in operator.stdout
    temporary = impact(
        "org",
        "create",
        "york-carers",
        "York Carers",
        "--admin-email",
        "cy@example.org",
        "--temporary-password",
        stdin="a long enough passphrase\na long enough passphrase\n",
    )
    assert temporary.returncode == 0, temporary.stderr
    engine = make_engine(f"sqlite:///{tmp_path / 'var' / 'impact.db'}")
    with Session(engine) as session:
        operators = {org.org_id for org in session.execute(select(Organisation)).scalars() if org.operator}
        must_change = {a.email: a.must_change_password for a in session.execute(select(StaffAccount)).scalars()}
    engine.dispose()
    assert operators == {"impact-platform"}, "only an organisation created with --operator runs the platform"
    assert must_change == {"ann@example.org": False, "bo@example.org": False, "cy@example.org": True}, (
        "a password typed at the command line is the person's own, unless it is marked temporary"
    )


def test_ctrl_c_stops_impact_run_within_three_seconds_without_an_error(tmp_path: Path) -> None:
    """Ctrl-C reaches the terminal's whole process group: `impact run` stops its services once, quickly, quietly."""
    ports = {name: str(free_port()) for name in ("INGEST", "DASHBOARD", "PROCESSOR_HEALTH")}
    env = impact_env(tmp_path / "var", **{f"IMPACT_{name}_PORT": port for name, port in ports.items()})
    run = subprocess.Popen(
        [sys.executable, "-m", "impact.cli", "run", "--no-seed"],
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        start_new_session=True,  # a process group of its own, as a terminal gives a command
    )
    try:
        urls = [f"http://127.0.0.1:{ports[name]}/healthz" for name in ("INGEST", "DASHBOARD", "PROCESSOR_HEALTH")]
        assert wait_for(lambda: all(get(url)[0] == 200 for url in urls), 120), "the services start"
        started = time.monotonic()
        os.killpg(run.pid, signal.SIGINT)  # what Ctrl-C does
        output, errors = run.communicate(timeout=30)
        took = time.monotonic() - started
    finally:
        if run.poll() is None:
            os.killpg(run.pid, signal.SIGKILL)
            run.communicate()
    assert run.returncode == 0, errors[-3000:]
    assert took < 3, f"Ctrl-C took {took:.1f} s"
    lines = (output + errors).splitlines()
    assert [line for line in lines if "SIGKILL" in line or "Traceback" in line or '"level": "ERROR"' in line] == []
    logged = [json.loads(line) for line in errors.splitlines()]  # every service's log: one JSON object a line
    assert {entry["service"] for entry in logged} >= {"ingest", "dashboard"}
