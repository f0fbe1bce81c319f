"""The Docker files keep the promises of docs/DOCKER.md and docs/DATABASE.md.

No Docker engine runs in CI, so these tests read docker/Dockerfile, the
compose files, .dockerignore and the Makefile, and dry-run the make targets;
test_docker_scripts.py runs the scripts against a fake docker command and
test_docker_layout.py starts the service in the image's layout.
"""

from __future__ import annotations

import re
import shutil
import subprocess
from typing import Any

import pytest

from ai_code_reviewer.settings import Settings
from tests.conftest import REPO_ROOT
from tests.integration.ops.dockerfiles import (
    COMPOSE,
    COMPOSE_DEV,
    Stage,
    dockerfile_stages,
    load_compose,
    sqlite_path,
)

DOCKER_DIR = REPO_ROOT / "docker"
DOCKER_TARGETS = {
    "docker-build",
    "docker-run",
    "docker-run-dev",
    "docker-stop",
    "docker-logs",
    "docker-backup",
    "docker-restore",
    "docker-upgrade",
}
SETTINGS_VARIABLES = {name.upper() for name in Settings.model_fields}
COMPILERS = re.compile(r"\b(build-essential|gcc|g\+\+|clang|cc|make)\b")


@pytest.fixture(scope="module")
def final() -> Stage:
    """Return the stage that makes the image."""
    return dockerfile_stages()[-1]


@pytest.fixture(scope="module")
def prod() -> dict[str, Any]:
    """Return docker/docker-compose.yml."""
    return load_compose(COMPOSE)


@pytest.fixture(scope="module")
def dev() -> dict[str, Any]:
    """Return docker/docker-compose.dev.yml."""
    return load_compose(COMPOSE_DEV)


def make_dry_run(*arguments: str) -> subprocess.CompletedProcess[str]:
    """Run ``make -n`` in the repository with ``arguments``."""
    return subprocess.run(
        ["make", "--no-print-directory", "-n", "-C", str(REPO_ROOT), *arguments],
        capture_output=True,
        text=True,
        timeout=30,
        check=False,
    )


def test_dockerfile_builds_in_a_stage_and_runs_from_the_same_base() -> None:
    """Two stages on one slim Python 3.11 base; the build installs with constraints."""
    build, final = dockerfile_stages()
    runs = " ".join(build.arguments("RUN"))

    assert build.name == "build"
    assert build.base == final.base
    assert re.fullmatch(r"python:3\.11-slim(-\w+)?", final.base)
    assert "python -m venv /opt/venv" in runs
    assert "-c constraints.txt -r requirements.txt" in runs
    assert "pip check" in runs


def test_final_stage_has_no_compiler(final: Stage) -> None:
    """The compiler installed for the build stage never reaches the image."""
    installed = " ".join(final.arguments("RUN"))

    assert not COMPILERS.search(installed)
    assert "sqlite3" in installed  # the guide's `docker exec ... sqlite3`


def test_final_stage_runs_the_service_as_a_user_without_privileges(
    final: Stage,
) -> None:
    """USER is not root, and the data folder belongs to that user."""
    user = final.last("USER").arguments
    runs = " ".join(final.arguments("RUN"))

    assert user not in {"root", "0"}
    assert f"useradd --system --uid 10001 --gid {user}" in runs
    assert f"chown {user}:{user} /app/data" in runs


def test_final_stage_holds_the_service_and_its_migrations(final: Stage) -> None:
    """The venv from the build stage, alembic/ and alembic.ini are copied in."""
    copies = final.copies()

    assert (["--from=build"], ["/opt/venv"], "/opt/venv") in copies
    assert ([], ["alembic.ini"], "./") in copies
    assert ([], ["alembic"], "./alembic") in copies
    assert final.last("WORKDIR").arguments == "/app"


def test_final_stage_environment_puts_the_data_under_app_data(final: Stage) -> None:
    """ENV sets the promised paths, and every name is a setting or ALEMBIC_DIR."""
    env = final.env()

    assert env["DATABASE_URL"] == "sqlite+aiosqlite:////app/data/ai_code_reviewer.db"
    assert env["EMAIL_OUTBOX_DIR"] == "/app/data/outbox"
    assert env["BACKUP_DIR"] == "/app/data/backups"
    assert env["ALEMBIC_DIR"] == "/app/alembic"
    assert env["HOST"] == "0.0.0.0"  # noqa: S104  # the promised address
    assert env["PATH"].startswith("/opt/venv/bin:")
    service_names = (
        set(env)
        - {"PATH", "ALEMBIC_DIR"}
        - {name for name in env if name.startswith("PYTHON")}
    )
    assert service_names <= SETTINGS_VARIABLES


def test_final_stage_serves_port_8000_with_a_readiness_health_check(
    final: Stage,
) -> None:
    """EXPOSE 8000, CMD the service module, HEALTHCHECK /ready with urllib."""
    healthcheck = final.last("HEALTHCHECK").arguments

    assert final.last("EXPOSE").arguments == "8000"
    assert final.last("CMD").exec_form() == [
        "python",
        "-m",
        "ai_code_reviewer.api.main",
    ]
    assert final.last("ENTRYPOINT").exec_form() == ["docker-entrypoint"]
    assert "/ready" in healthcheck
    assert "urllib.request" in healthcheck
    assert "curl" not in healthcheck
    assert final.last("VOLUME").exec_form() == ["/app/data"]


def test_dockerignore_lets_in_only_what_the_dockerfile_copies() -> None:
    """The context is an allowlist holding every COPY source and nothing secret."""
    lines = (REPO_ROOT / ".dockerignore").read_text().splitlines()
    patterns = [line for line in lines if line and not line.startswith("#")]
    allowed = {p.removeprefix("!").rstrip("/") for p in patterns if p[0] == "!"}
    sources = {
        source.rstrip("/")
        for stage in dockerfile_stages()
        for options, paths, _destination in stage.copies()
        if not any(option.startswith("--from") for option in options)
        for source in paths
    }

    assert patterns[0] == "*"
    assert sources == allowed
    assert not allowed & {".env", ".git", "data", "backups", "ai_code_reviewer.db"}


def test_compose_app_keeps_its_data_in_the_volume_docker_db_data(
    prod: dict[str, Any],
) -> None:
    """The app mounts the volume named exactly docker_db_data at /app/data."""
    app = prod["services"]["app"]

    assert "db_data:/app/data" in app["volumes"]
    assert prod["volumes"]["db_data"]["name"] == "docker_db_data"
    assert sqlite_path(app["environment"]["DATABASE_URL"]).startswith("/app/data/")
    assert app["restart"] == "unless-stopped"
    assert app["ports"] == ["8000:8000"]
    assert app["image"] == "ai-code-reviewer:latest"
    assert app["build"] == {"context": "..", "dockerfile": "docker/Dockerfile"}
    assert (DOCKER_DIR / app["build"]["context"] / "docker" / "Dockerfile").is_file()


def test_compose_reads_an_optional_env_file(
    prod: dict[str, Any], dev: dict[str, Any]
) -> None:
    """Both files read ../.env, the checkout's .env, and start without one."""
    for compose in (prod, dev):
        assert compose["services"]["app"]["env_file"] == [
            {"path": "../.env", "required": False}
        ]


def test_compose_environment_names_are_settings(
    prod: dict[str, Any], dev: dict[str, Any]
) -> None:
    """Every variable the compose files set is one the service reads."""
    overrides = [load_compose(path) for path in DOCKER_DIR.glob("docker-compose.*.yml")]
    names = {
        name
        for compose in (prod, dev, *overrides)
        for service_name, service in compose["services"].items()
        if service_name != "postgres"
        for name in (service or {}).get("environment", {})
    }

    assert names <= SETTINGS_VARIABLES


def test_compose_worker_profile_runs_the_worker_without_a_health_check(
    prod: dict[str, Any],
) -> None:
    """The worker shares the app's image and volume; its override idles the app."""
    worker = prod["services"]["worker"]
    override = load_compose(DOCKER_DIR / "docker-compose.worker.yml")

    assert worker["profiles"] == ["worker"]
    assert worker["command"] == ["ai-code-reviewer", "worker"]
    assert worker["healthcheck"] == {"disable": True}
    assert worker["volumes"] == prod["services"]["app"]["volumes"]
    assert worker["image"] == prod["services"]["app"]["image"]
    assert override["services"]["app"]["environment"] == {"WORKER_CONCURRENCY": "0"}


def test_compose_postgres_profile_has_its_own_volume_and_health_check(
    prod: dict[str, Any],
) -> None:
    """postgres runs under its profile; the override points the app at it."""
    postgres = prod["services"]["postgres"]
    override = load_compose(DOCKER_DIR / "docker-compose.postgres.yml")

    assert postgres["profiles"] == ["postgres"]
    assert "pg_isready" in " ".join(postgres["healthcheck"]["test"])
    assert postgres["volumes"] == ["pg_data:/var/lib/postgresql/data"]
    assert prod["volumes"]["pg_data"]["name"] != "docker_db_data"
    for service in ("app", "worker"):
        settings = override["services"][service]
        assert settings["environment"]["DATABASE_URL"].startswith(
            "postgresql+asyncpg://"
        )
        assert "@postgres:5432/" in settings["environment"]["DATABASE_URL"]
        assert settings["depends_on"] == {"postgres": {"condition": "service_healthy"}}


def test_compose_dev_keeps_its_database_in_the_checkout(dev: dict[str, Any]) -> None:
    """Dev bind-mounts ../data, names its own database and logs at DEBUG."""
    app = dev["services"]["app"]

    assert app["volumes"] == ["../data:/app/data"]
    assert app["environment"]["DATABASE_URL"].endswith(
        "////app/data/ai_code_reviewer_dev.db"
    )
    assert app["environment"]["LOG_LEVEL"] == "DEBUG"
    assert app["image"] != "ai-code-reviewer:latest"  # never replaces production's
    assert dev["name"] != load_compose(COMPOSE)["name"]


def test_guide_paths_match_the_image_and_the_compose_files(
    prod: dict[str, Any], dev: dict[str, Any], final: Stage
) -> None:
    """The guide's docker cp path is the database of the image and of compose."""
    guide = (REPO_ROOT / "docs" / "DATABASE.md").read_text()
    copied_to = re.search(r"docker cp backup\.db <container>:(\S+)", guide)
    dev_file = re.search(r"\./data/(ai_code_reviewer_dev\.db)", guide)

    assert copied_to is not None
    assert dev_file is not None
    assert copied_to.group(1) == sqlite_path(final.env()["DATABASE_URL"])
    app_url = prod["services"]["app"]["environment"]["DATABASE_URL"]
    assert copied_to.group(1) == sqlite_path(app_url)
    assert "Docker Volume: docker_db_data" in guide
    dev_url = dev["services"]["app"]["environment"]["DATABASE_URL"]
    assert sqlite_path(dev_url) == f"/app/data/{dev_file.group(1)}"


def test_makefile_has_every_promised_target_and_keeps_the_old_ones() -> None:
    """make's database lists the docker targets as phony, beside the old ones."""
    database = make_dry_run("-p", "docker-build").stdout
    targets = set(re.findall(r"^([a-z][a-z-]*):", database, flags=re.M))
    phony = " ".join(re.findall(r"^\.PHONY: (.*)$", database, flags=re.M)).split()

    assert targets >= DOCKER_TARGETS
    assert set(phony) >= DOCKER_TARGETS
    assert {"install", "run", "test", "check", "lint", "format"} <= targets


def test_make_docker_backup_runs_the_backup_script_with_the_compose_files() -> None:
    """docker-backup hands the script the compose command with the profiles asked."""
    plain = make_dry_run("docker-backup")
    profiled = make_dry_run("docker-backup", "DOCKER_PROFILES=postgres worker")

    assert plain.returncode == 0, plain.stderr
    assert "scripts/docker_backup.sh" in plain.stdout
    assert "-f docker/docker-compose.yml" in plain.stdout
    assert "--profile" not in plain.stdout
    assert (
        "-f docker/docker-compose.postgres.yml --profile postgres "
        "-f docker/docker-compose.worker.yml --profile worker"
    ) in profiled.stdout


def test_make_docker_restore_refuses_without_file() -> None:
    """docker-restore without FILE stops before any command, saying how to call it."""
    refused = make_dry_run("docker-restore")
    planned = make_dry_run("docker-restore", "FILE=backups/old.db")

    assert refused.returncode != 0
    assert "usage: make docker-restore FILE=" in refused.stderr
    assert refused.stdout == ""
    assert "scripts/docker_restore.sh 'backups/old.db'" in planned.stdout


def test_make_docker_upgrade_passes_the_ready_timeout() -> None:
    """docker-upgrade runs the upgrade script with READY_TIMEOUT."""
    planned = make_dry_run("docker-upgrade", "READY_TIMEOUT=45")

    assert "READY_TIMEOUT=45 scripts/docker_upgrade.sh" in planned.stdout
    assert 'COMPOSE="docker compose' in planned.stdout


def test_make_docker_run_dev_creates_the_data_folder_first() -> None:
    """docker-run-dev makes ./data (else Docker makes it, owned by root) and builds."""
    planned = make_dry_run("docker-run-dev").stdout.splitlines()

    assert planned[0] == "mkdir -p data"
    assert "-f docker/docker-compose.dev.yml up -d --build" in planned[1]
    assert "HOST_UID=$(id -u)" in planned[1]


def test_docker_scripts_pass_shellcheck() -> None:
    """The shell scripts are shellcheck-clean, when shellcheck is installed."""
    if shutil.which("shellcheck") is None:
        pytest.skip("shellcheck is not installed (apt-get install shellcheck)")
    scripts = sorted(
        str(p.relative_to(REPO_ROOT)) for p in REPO_ROOT.glob("scripts/docker_*.sh")
    )

    result = subprocess.run(
        ["shellcheck", "-x", *scripts],
        cwd=REPO_ROOT,
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )

    assert "scripts/docker_upgrade.sh" in scripts
    assert result.returncode == 0, result.stdout


def test_docker_guide_covers_every_target() -> None:
    """docs/DOCKER.md names every make target, the volume and the cron backup."""
    guide = (REPO_ROOT / "docs" / "DOCKER.md").read_text()

    for target in DOCKER_TARGETS:
        assert f"make {target}" in guide
    assert "docker_db_data" in guide
    assert "/etc/cron.daily/ai-code-reviewer-backup" in guide
    assert "RETENTION_DAYS" in guide
