"""The deployment files (docker-compose.yml, Dockerfile, .dockerignore) agree with the code.

No Docker engine runs in the test environment, so these read the files: the compose configuration must
be one `impact.settings.Settings` accepts in production, name only variables it reads, keep secrets out
of the repository and start services in a safe order.
"""

from __future__ import annotations

import fnmatch
import os
import re
import secrets
import tomllib
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import yaml
from sqlalchemy.engine import make_url

from impact.settings import Environment, LogBackend, Settings, settings_variables

ROOT = Path(__file__).resolve().parents[2]
COMPOSE_FILE = ROOT / "docker-compose.yml"
DOCKERFILE = ROOT / "Dockerfile"
DOCKERIGNORE = ROOT / ".dockerignore"

APP_SERVICES = ("ingest", "processor", "dashboard")
ONE_SHOT_SERVICES = ("migrate",)
INFRA_SERVICES = ("kafka", "postgres")
LONG_RUNNING = INFRA_SERVICES + APP_SERVICES
REQUIRED_SECRETS = ("IMPACT_SECRET_KEY", "POSTGRES_PASSWORD")
# Which port setting each app service's health check must hit.
HEALTH_PORT_FIELD = {"ingest": "ingest_port", "processor": "processor_health_port", "dashboard": "dashboard_port"}

# Compose interpolation: ${NAME}, ${NAME:-default}, ${NAME-default}, ${NAME:?error}, ${NAME?error}, ...
INTERPOLATION = re.compile(r"\$\{(?P<name>[A-Za-z_][A-Za-z0-9_]*)(?:(?P<op>:?[-?+])(?P<arg>[^}]*))?\}")
IMPACT_NAME = re.compile(r"\bIMPACT_[A-Z0-9_]+")


@pytest.fixture(scope="module")
def compose_text() -> str:
    return COMPOSE_FILE.read_text()


@pytest.fixture(scope="module")
def compose(compose_text: str) -> dict[str, Any]:
    data = yaml.safe_load(compose_text)  # safe_load resolves the `<<: *anchor` merges
    assert isinstance(data, dict)
    return data


@pytest.fixture(scope="module")
def services(compose: dict[str, Any]) -> dict[str, dict[str, Any]]:
    return compose["services"]


def environment(service: dict[str, Any]) -> dict[str, str]:
    """A service's environment as a mapping, whichever of compose's two forms the file uses."""
    env = service.get("environment") or {}
    if isinstance(env, list):
        env = dict(item.split("=", 1) if "=" in item else (item, None) for item in env)
    for key, value in env.items():
        assert value is not None, f"{key} has no value: pass-through from the host must be explicit"
    return {key: str(value).lower() if isinstance(value, bool) else str(value) for key, value in env.items()}


def resolve(value: str, required: dict[str, str]) -> str:
    """Interpolate as compose would, with each required variable given the value in `required`."""

    def substitute(match: re.Match[str]) -> str:
        name, op, arg = match["name"], match["op"], match["arg"]
        if op in (":?", "?"):
            return required.setdefault(name, secrets.token_urlsafe(36))
        if op in (":-", "-"):
            return arg
        raise AssertionError(f"${{{name}}} has neither a default nor the required (:?) form")

    return INTERPOLATION.sub(substitute, value.replace("$$", "\0")).replace("\0", "$")


def depends_on(service: dict[str, Any]) -> dict[str, str]:
    deps = service.get("depends_on") or {}
    assert isinstance(deps, dict), "depends_on must use the long form, with a condition for each dependency"
    return {name: spec.get("condition", "") for name, spec in deps.items()}


def walk(node: Any) -> Iterator[str]:
    """Every key and string value in the parsed file."""
    if isinstance(node, dict):
        for key, value in node.items():
            yield str(key)
            yield from walk(value)
    elif isinstance(node, list):
        for item in node:
            yield from walk(item)
    elif isinstance(node, str):
        yield node


def default(field: str) -> Any:
    """A setting's default, whatever the environment running the tests holds."""
    return Settings.model_fields[field].default


def healthcheck_command(service: dict[str, Any]) -> list[str]:
    test = (service.get("healthcheck") or {}).get("test")
    assert test, "no healthcheck test"
    if isinstance(test, str):
        return ["CMD-SHELL", test]
    assert test[0] in ("CMD", "CMD-SHELL"), f"healthcheck is disabled or malformed: {test}"
    assert len(test) > 1
    return [str(part) for part in test]


# --- services -------------------------------------------------------------------------------------


def test_all_services_are_defined(services: dict[str, Any]) -> None:
    assert set(LONG_RUNNING + ONE_SHOT_SERVICES) <= set(services)


def test_kafka_is_the_apache_image_in_kraft_mode(services: dict[str, Any]) -> None:
    kafka = services["kafka"]
    env = environment(kafka)
    assert kafka["image"].startswith("apache/kafka:")
    assert {"broker", "controller"} <= set(env["KAFKA_PROCESS_ROLES"].split(","))
    assert env["KAFKA_CONTROLLER_QUORUM_VOTERS"]
    assert env["KAFKA_CONTROLLER_LISTENER_NAMES"] in env["KAFKA_LISTENER_SECURITY_PROTOCOL_MAP"]
    assert env["KAFKA_AUTO_CREATE_TOPICS_ENABLE"] == "false"
    assert env["KAFKA_OFFSETS_TOPIC_REPLICATION_FACTOR"] == "1"
    assert env["KAFKA_TRANSACTION_STATE_LOG_REPLICATION_FACTOR"] == "1"
    assert any(":" in volume and not volume.startswith((".", "/")) for volume in kafka["volumes"]), "named volume"
    assert healthcheck_command(kafka)[1].startswith("/opt/kafka/bin/")


def test_kafka_advertises_the_address_the_apps_use(services: dict[str, Any]) -> None:
    advertised = environment(services["kafka"])["KAFKA_ADVERTISED_LISTENERS"]
    for name in APP_SERVICES:
        bootstrap = environment(services[name])["IMPACT_KAFKA_BOOTSTRAP"]
        assert f"://{bootstrap}" in advertised, f"{name} bootstraps from {bootstrap}, kafka advertises {advertised}"


def test_no_zookeeper_anywhere(compose: dict[str, Any]) -> None:
    assert not [text for text in walk(compose) if "zookeeper" in text.lower()]


def test_postgres_service(services: dict[str, Any]) -> None:
    postgres = services["postgres"]
    env = environment(postgres)
    assert re.fullmatch(r"postgres:1[6-9](\.\d+)*", postgres["image"])
    assert env["POSTGRES_USER"] == "impact"
    assert env["POSTGRES_DB"] == "impact"
    assert any(":" in volume and not volume.startswith((".", "/")) for volume in postgres["volumes"]), "named volume"
    assert healthcheck_command(postgres)[1:] == ["pg_isready", "-U", "impact", "-d", "impact"]


@pytest.mark.parametrize("name", LONG_RUNNING)
def test_long_running_services_have_a_healthcheck_and_restart(services: dict[str, Any], name: str) -> None:
    healthcheck_command(services[name])
    assert services[name]["restart"] == "unless-stopped"


@pytest.mark.parametrize("name", APP_SERVICES + ONE_SHOT_SERVICES)
def test_app_services_run_the_impact_command_from_the_built_image(services: dict[str, Any], name: str) -> None:
    service = services[name]
    assert service.get("build"), "app services are built from the Dockerfile"
    assert service["command"][0] == "impact"


def test_migrate_is_one_shot(services: dict[str, Any]) -> None:
    migrate = services["migrate"]
    assert migrate["command"] == ["impact", "db", "upgrade"]
    assert migrate.get("restart", "no") in ("no", "on-failure")
    assert "ports" not in migrate
    assert depends_on(migrate) == {"postgres": "service_healthy"}


@pytest.mark.parametrize("name", APP_SERVICES)
def test_app_services_wait_for_healthy_infrastructure(services: dict[str, Any], name: str) -> None:
    deps = depends_on(services[name])
    assert deps["kafka"] == "service_healthy"
    assert deps["postgres"] == "service_healthy"


@pytest.mark.parametrize("name", ["ingest", "processor", "dashboard"])
def test_database_services_wait_for_migrations(services: dict[str, Any], name: str) -> None:
    assert depends_on(services[name])["migrate"] == "service_completed_successfully"


def test_only_ingest_and_dashboard_are_published_and_only_on_localhost(services: dict[str, Any]) -> None:
    published = {}
    for name, service in services.items():
        for port in service.get("ports", []):
            if isinstance(port, dict):
                host_ip, target = port.get("host_ip"), port["target"]
            else:
                host_ip, _, target = str(port).rpartition(":")  # "127.0.0.1:8001:8001"
                host_ip = host_ip.rpartition(":")[0]
            assert host_ip == "127.0.0.1", f"{name} publishes {port} beyond localhost"
            published[name] = int(target)
    assert published == {"ingest": default("ingest_port"), "dashboard": default("dashboard_port")}


def _published(service: dict[str, Any]) -> list[tuple[str, int, int]]:
    """(host address, host port, container port) of each port a service publishes."""
    found = []
    for port in service.get("ports", []):
        if isinstance(port, dict):
            found.append((str(port.get("host_ip")), int(port["published"]), int(port["target"])))
        else:
            host_ip, published, target = str(port).rsplit(":", 2)  # "127.0.0.1:8001:8001"
            found.append((host_ip, int(published), int(target)))
    return found


def test_the_web_services_share_one_host_for_one_sign_in(
    services: dict[str, Any], monkeypatch: pytest.MonkeyPatch
) -> None:
    """One sign-in opens both (impact/auth/sessions.py): one session cookie, which a browser keeps per host name,
    not per port, signed with one key; each service links to the other on the browser's host and the other's
    port setting. So both are published on the same host, each at the port number its setting names."""
    ingest, dashboard = environment(services["ingest"]), environment(services["dashboard"])
    for key in ("IMPACT_ENV", "IMPACT_SECRET_KEY", "IMPACT_INGEST_PORT", "IMPACT_DASHBOARD_PORT"):
        assert ingest[key] == dashboard[key], f"{key} differs: the cookie or the links between them would too"
    for key in list(os.environ):
        if key.upper().startswith("IMPACT_"):
            monkeypatch.delenv(key)
    required: dict[str, str] = {}
    for key, value in ingest.items():
        monkeypatch.setenv(key, resolve(value, required))
    settings = Settings()
    [(ingest_host, ingest_port, ingest_target)] = _published(services["ingest"])
    [(dashboard_host, dashboard_port, dashboard_target)] = _published(services["dashboard"])
    assert ingest_host == dashboard_host, "one host for both: the session cookie is the host's"
    assert ingest_port == ingest_target == settings.ingest_port
    assert dashboard_port == dashboard_target == settings.dashboard_port
    assert ingest_port != dashboard_port


# --- configuration --------------------------------------------------------------------------------


def test_every_impact_variable_is_a_setting(services: dict[str, Any], compose_text: str) -> None:
    known = settings_variables()
    in_environments = {
        key for service in services.values() for key in environment(service) if key.startswith("IMPACT_")
    }
    anywhere = set(IMPACT_NAME.findall(compose_text))
    assert in_environments, "the app services are configured through IMPACT_* variables"
    assert in_environments | anywhere <= known, f"not read by Settings: {sorted((in_environments | anywhere) - known)}"


def test_every_interpolation_is_required_or_has_a_default(compose_text: str) -> None:
    for match in INTERPOLATION.finditer(compose_text):
        assert match["op"] in (":?", "?", ":-", "-"), f"{match[0]}: unset would silently become empty"


@pytest.mark.parametrize("name", REQUIRED_SECRETS)
def test_secrets_are_required_from_the_host_and_never_defaulted(compose_text: str, name: str) -> None:
    uses = [match for match in INTERPOLATION.finditer(compose_text) if match["name"] == name]
    assert uses, f"{name} is not taken from the host environment"
    for match in uses:
        assert match["op"] in (":?", "?"), f"{match[0]} must use the required form ${{{name}:?message}}"


def test_no_literal_secret_values(services: dict[str, Any]) -> None:
    secret_like = re.compile(r"SECRET|PASSWORD|TOKEN|PRIVATE|API_KEY", re.IGNORECASE)
    for name, service in services.items():
        for key, value in environment(service).items():
            if secret_like.search(key):
                match = INTERPOLATION.fullmatch(value)
                assert match and match["op"] in (":?", "?"), f"{name}: {key} must be ${{VAR:?message}}, not a value"


def test_database_url_password_comes_from_the_host(services: dict[str, Any]) -> None:
    postgres = environment(services["postgres"])
    for name in APP_SERVICES + ONE_SHOT_SERVICES:
        required: dict[str, str] = {}
        url = make_url(resolve(environment(services[name])["IMPACT_DATABASE_URL"], required))
        assert url.drivername == "postgresql+psycopg"
        assert url.password == required["POSTGRES_PASSWORD"]
        assert (url.username, url.database) == (postgres["POSTGRES_USER"], postgres["POSTGRES_DB"])
        assert (url.host, url.port) == ("postgres", 5432)


@pytest.mark.parametrize("name", APP_SERVICES + ONE_SHOT_SERVICES)
def test_settings_accept_the_compose_environment(
    services: dict[str, Any], monkeypatch: pytest.MonkeyPatch, name: str
) -> None:
    for key in list(os.environ):
        if key.upper().startswith("IMPACT_"):
            monkeypatch.delenv(key)
    required: dict[str, str] = {}
    for key, value in environment(services[name]).items():
        monkeypatch.setenv(key, resolve(value, required))
    assert len(required["IMPACT_SECRET_KEY"]) == 48

    settings = Settings()

    assert settings.env == Environment.production
    assert settings.event_log == LogBackend.kafka
    assert settings.kafka_bootstrap == "kafka:9092"
    assert settings.kafka_partitions == 3
    assert settings.host == "0.0.0.0"  # noqa: S104  (inside a container; compose publishes on 127.0.0.1)
    assert settings.secret_key == required["IMPACT_SECRET_KEY"]
    assert settings.sqlalchemy_url.startswith("postgresql+psycopg://")
    if name in HEALTH_PORT_FIELD:
        port = getattr(settings, HEALTH_PORT_FIELD[name])
        command = " ".join(healthcheck_command(services[name]))
        assert f"http://127.0.0.1:{port}/healthz" in command, f"{name} health check misses port {port}"


# --- image ----------------------------------------------------------------------------------------


def dockerfile_instructions() -> list[tuple[str, str]]:
    """(INSTRUCTION, arguments) pairs, with continuation lines joined and comments dropped."""
    lines = [line for line in DOCKERFILE.read_text().splitlines() if not line.lstrip().startswith("#")]
    joined = re.sub(r"\\\n\s*", " ", "\n".join(lines))
    pairs = []
    for line in joined.splitlines():
        if line.strip():
            instruction, _, arguments = line.strip().partition(" ")
            pairs.append((instruction.upper(), arguments.strip()))
    return pairs


def test_dockerfile_installs_the_package_and_runs_unprivileged() -> None:
    instructions = dockerfile_instructions()
    assert instructions[0] == ("FROM", "python:3.11-slim")
    runs = [i for i, (op, args) in enumerate(instructions) if op == "RUN"]
    locked = [
        i
        for i in runs
        if "pip install --no-cache-dir --require-hashes -r requirements/runtime.txt" in instructions[i][1]
    ]
    install = [i for i in runs if re.search(r"pip install --no-cache-dir --no-deps .*\.(\s|$)", instructions[i][1])]
    assert locked and install, "the image installs the locked versions (checked by hash), then the package alone"
    assert locked[0] < install[0]
    users = [(i, args) for i, (op, args) in enumerate(instructions) if op == "USER"]
    assert users, "the image sets a USER"
    last_user_at, last_user = users[-1]
    assert last_user.split(":")[0] not in ("root", "0")
    assert last_user_at > max(runs), "nothing runs as root after the USER switch"
    assert any(op == "ENV" and "PYTHONUNBUFFERED=1" in args.split() for op, args in instructions)
    assert ("CMD", '["impact", "ingest"]') in instructions
    exposed = {int(port) for op, args in instructions if op == "EXPOSE" for port in args.split()}
    assert {default("ingest_port"), default("processor_health_port"), default("dashboard_port")} <= exposed


def test_dockerfile_copies_what_pyproject_needs() -> None:
    pyproject = tomllib.loads((ROOT / "pyproject.toml").read_text())
    packages = [pattern.rstrip("*") for pattern in pyproject["tool"]["setuptools"]["packages"]["find"]["include"]]
    copied = {
        source.rstrip("/")
        for op, args in dockerfile_instructions()
        if op == "COPY" and not args.startswith("--from")
        for source in args.split()[:-1]
        if not source.startswith("--")
    }
    assert {"requirements/runtime.txt", "pyproject.toml", pyproject["project"]["readme"], *packages} <= copied


def test_dockerfile_holds_no_secrets() -> None:
    for op, args in dockerfile_instructions():
        if op in ("ENV", "ARG"):
            assert not re.search(r"SECRET|PASSWORD|TOKEN|DATABASE_URL", args, re.IGNORECASE), f"{op} {args}"


def test_dockerignore_keeps_local_state_out_and_the_sources_in() -> None:
    patterns = [
        line.strip() for line in DOCKERIGNORE.read_text().splitlines() if line.strip() and not line.startswith("#")
    ]
    for excluded in (".venv", ".git", "var", "**/__pycache__", ".env"):
        assert excluded in patterns
    needed = [
        "requirements/runtime.txt",
        "requirements",
        "pyproject.toml",
        "README.md",
        "schemas",
        "impact",
        "ingest",
        "processors",
        "dashboard",
    ]
    for path in needed:
        assert not [p for p in patterns if fnmatch.fnmatch(path, p.removeprefix("**/"))], f"{path} is ignored"
