"""docs/DATABASE.md works as written: its commands, SQL and Python, run verbatim.

Each test copies what a checkout holds (alembic.ini, alembic/, scripts/) into
an empty folder and runs the guide's lines there through a shell, with the
project's virtual environment first on PATH, as a user who ran `make run`
would. Every command line of the guide's bash blocks is either run here or
listed in NOT_RUN with the reason.
"""

from __future__ import annotations

import os
import re
import shutil
import signal
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.conftest import REPO_ROOT, drop_pg_database, pg_admin_url
from tests.integration.test_service import free_port, wait_until_up

GUIDE = REPO_ROOT / "docs" / "DATABASE.md"
SEED_GUIDE = REPO_ROOT.parent / "shared" / "seed" / "DATABASE-guide.md"

# Lines of the guide that these tests do not run, and why.
NOT_RUN = {
    # CI has no Docker engine; tests/integration/ops check the Docker files,
    # the make targets (dry run) and their scripts (against a fake docker).
    "docker": "needs a Docker engine, which CI does not have",
    "make docker-": "needs a Docker engine, which CI does not have",
    "/usr/bin/make docker-backup": "a cron line running make docker-backup",
    "cd /path/to/ai_code_reviewer": "a cron line; the path is the user's",
    ".venv/bin/python scripts/db_helper.py backup >>": "a cron line (runs "
    "the backup command tested here)",
    "./backups/backup_$(date": "continuation of a docker cp line",
    "pip install asyncpg": "asyncpg is already a dependency; no network",
    "DATABASE_URL=postgresql+asyncpg://user:pass@localhost/ai_code_reviewer": (
        "a .env line: test_postgres_steps writes it with a real server's address"
    ),
}


def bash_lines(text: str) -> list[str]:
    """Return every command line of the ```bash blocks of ``text``."""
    blocks = re.findall(r"```bash\n(.*?)```", text, flags=re.S)
    lines = [line.strip() for block in blocks for line in block.splitlines()]
    return [line for line in lines if line and not line.startswith("#")]


def python_blocks(text: str) -> list[str]:
    """Return the ```python blocks of ``text`` that are whole programs."""
    blocks = re.findall(r"```python\n(.*?)```", text, flags=re.S)
    return [block for block in blocks if "asyncio.run(" in block]


@pytest.fixture(scope="module")
def guide() -> str:
    """Return the text of docs/DATABASE.md."""
    return GUIDE.read_text()


@pytest.fixture
def checkout(tmp_path: Path) -> Path:
    """Lay out what a fresh checkout holds in an empty folder."""
    ignore = shutil.ignore_patterns("__pycache__")
    shutil.copy(REPO_ROOT / "alembic.ini", tmp_path)
    shutil.copytree(REPO_ROOT / "alembic", tmp_path / "alembic", ignore=ignore)
    shutil.copytree(REPO_ROOT / "scripts", tmp_path / "scripts", ignore=ignore)
    return tmp_path


@pytest.fixture
def env(checkout: Path) -> dict[str, str]:
    """Return a user's environment: the venv first on PATH, no database set."""
    drop = {"DATABASE_URL", "PORT", "BACKUP_DIR", "RETENTION_DAYS"}
    values = {k: v for k, v in os.environ.items() if k not in drop}
    values["PATH"] = f"{Path(sys.executable).parent}{os.pathsep}{values['PATH']}"
    values["ALEMBIC_DIR"] = str(checkout / "alembic")
    return values


class Shell:
    """Run the guide's lines in one folder, failing the test on a non-zero exit."""

    def __init__(self, folder: Path, env: dict[str, str], guide: str) -> None:
        self.folder, self.env, self.guide = folder, env, guide

    def run(self, line: str, answer: str | None = None, documented: bool = True) -> str:
        """Run ``line``, which must stand in the guide unless it is set-up."""
        assert not documented or line in self.guide, f"not in the guide: {line}"
        # The point is to run the guide's lines through a shell, as written.
        result = subprocess.run(  # noqa: S602
            line,
            shell=True,
            cwd=self.folder,
            env=self.env,
            input=answer,
            capture_output=True,
            text=True,
            timeout=120,
            check=False,
        )
        output = result.stdout + result.stderr
        assert result.returncode == 0, f"{line!r} failed:\n{output}"
        # stderr only: stdout may be an API answer quoting a stored stack trace.
        assert "Traceback" not in result.stderr, result.stderr
        return output

    def python(self, program: str) -> str:
        """Run ``program`` as a script file in the folder; return its stdout."""
        script = self.folder / "snippet.py"
        script.write_text(program)
        result = subprocess.run(
            [sys.executable, script.name],
            cwd=self.folder,
            env=self.env,
            capture_output=True,
            text=True,
            timeout=60,
            check=False,
        )
        assert result.returncode == 0, result.stderr
        return result.stdout


@pytest.fixture
def shell(checkout: Path, env: dict[str, str], guide: str) -> Shell:
    """Return a shell in the checkout."""
    return Shell(checkout, env, guide)


def test_every_guide_command_is_run_or_explained(guide: str) -> None:
    """Each command line of the guide is run by a test here or listed in NOT_RUN."""
    source = Path(__file__).read_text()
    session = sql_block(guide, "### Via SQLite CLI").splitlines()

    unexplained = [
        line
        for line in bash_lines(guide)
        if not any(marker in line for marker in NOT_RUN)
        and not line.startswith("curl ")  # all run by test_api_curl_commands
        and line not in session  # run by test_sqlite_cli_session
        and repr(line) not in source
        and f'"{line}"' not in source
    ]

    assert unexplained == []


def test_guide_keeps_every_command_of_the_first_edition(guide: str) -> None:
    """Every command of the promised guide still stands in docs/DATABASE.md."""
    if not SEED_GUIDE.is_file():
        pytest.skip(f"the first edition is not beside the repository ({SEED_GUIDE})")
    promised = bash_lines(SEED_GUIDE.read_text())

    missing = [line for line in promised if line not in guide]

    assert missing == []


def test_manual_migration_commands(shell: Shell, checkout: Path) -> None:
    """alembic upgrade, autogenerate (empty), downgrade, history and current work."""
    shell.run("alembic upgrade head")
    shell.run('alembic revision --autogenerate -m "Description"')
    shell.run("alembic downgrade -1")
    shell.run("alembic upgrade head")
    history = shell.run("alembic history")
    current = shell.run("alembic current")

    generated = list((checkout / "alembic" / "versions").glob("*_description.py"))
    assert len(generated) == 1
    body = generated[0].read_text().split("def upgrade")[1].split("def downgrade")[0]
    assert "op." not in body
    assert "0001" in history
    assert "(head)" in current


def test_db_helper_commands(shell: Shell, checkout: Path) -> None:
    """Every db_helper line of the guide runs, answering the confirmations."""
    shell.run("python scripts/db_helper.py create")
    shell.run("python scripts/db_helper.py reset", answer="y\n")
    shell.run("python scripts/db_helper.py seed")
    shell.run("python scripts/db_helper.py clean", answer="y\n")
    shell.run("python scripts/db_helper.py seed")
    stats = shell.run("python scripts/db_helper.py stats")
    listing = shell.run("python scripts/db_helper.py list")
    shell.run("python scripts/db_helper.py backup")
    shutil.copy(checkout / "backups" / "latest_backup.db", checkout / "backup.db")
    shell.run("python scripts/db_helper.py restore --file backup.db", answer="y\n")
    shell.run("python scripts/db_helper.py failures --unresolved")
    shell.run('python scripts/db_helper.py resolve 1 --notes "model endpoint was down"')
    shell.run("python scripts/db_helper.py prune --days 90 --yes")
    shell.run("python scripts/db_helper.py vacuum")
    shell.run("python scripts/db_helper.py analyze")
    integrity = shell.run("python scripts/db_helper.py integrity")
    helped = shell.run("python scripts/db_helper.py --help")

    assert "40" in stats
    assert listing.strip()
    assert "ok" in integrity.lower()
    assert "backup" in helped


def test_backup_and_size_commands(shell: Shell, checkout: Path) -> None:
    """The file-level backup, restore and size lines work on a seeded database."""
    shell.run("python scripts/db_helper.py seed")

    shell.run("cp ai_code_reviewer.db ai_code_reviewer.backup.db")
    shell.run("python scripts/db_helper.py backup")
    shell.run("cp ./backups/latest_backup.db ./ai_code_reviewer.db")
    size = shell.run("ls -lh ai_code_reviewer.db")
    shell.run('sqlite3 ai_code_reviewer.db "VACUUM;"')
    shell.run('sqlite3 ai_code_reviewer.db "ANALYZE;"')
    integrity = shell.run('sqlite3 ai_code_reviewer.db "PRAGMA integrity_check;"')

    assert (checkout / "ai_code_reviewer.backup.db").stat().st_size > 0
    assert "ai_code_reviewer.db" in size
    assert integrity.strip() == "ok"


def sql_block(guide: str, heading: str) -> str:
    """Return the first fenced block after ``heading``."""
    after = guide.split(heading, 1)[1]
    return after.split("```", 2)[1].split("\n", 1)[1]


def test_sqlite_cli_session(shell: Shell, guide: str) -> None:
    """The sqlite3 session of 'Via SQLite CLI' runs as typed, line by line."""
    shell.run("python scripts/db_helper.py seed")
    session = sql_block(guide, "### Via SQLite CLI")
    typed = "\n".join(
        line for line in session.splitlines() if not line.startswith("#")
    ).replace("sqlite3 ai_code_reviewer.db\n", "")

    output = shell.run("sqlite3 ai_code_reviewer.db", answer=typed)

    assert "review_failure_logs" in output
    assert "CREATE TABLE review_records" in output
    assert "PROJ" in output or "|" in output


def test_query_optimization_sql(shell: Shell, guide: str) -> None:
    """EXPLAIN QUERY PLAN shows the project_key index; the CREATE INDEX runs."""
    shell.run("python scripts/db_helper.py seed")
    sql = sql_block(guide, "### Query Optimization")

    output = shell.run("sqlite3 ai_code_reviewer.db", answer=sql)

    assert "INDEX ix_review_records_project_key" in output


def test_python_snippets(shell: Shell, checkout: Path, guide: str) -> None:
    """The guide's Python programs run against the service's database."""
    shell.run("python scripts/db_helper.py seed")
    snippets = python_blocks(guide)

    outputs = [shell.python(snippet) for snippet in snippets]

    assert len(snippets) == 2
    assert outputs[0].strip().isdigit()
    assert len(outputs[1].strip().splitlines()) == 10


def test_sync_startup_snippet(shell: Shell, checkout: Path, guide: str) -> None:
    """run_migrations() and init_db() work as the guide shows them."""
    snippet = sql_block(guide, "From synchronous code")

    output = shell.python(snippet + "\nprint('done')\n")

    assert output.strip() == "done"
    assert (checkout / "ai_code_reviewer.db").is_file()


@pytest.fixture
def service(checkout: Path, env: dict[str, str]) -> Iterator[int]:
    """Run the service in the checkout on a free port; yield the port."""
    port = free_port()
    process = subprocess.Popen(
        [sys.executable, "-m", "ai_code_reviewer.api.main"],
        cwd=checkout,
        env={**env, "PORT": str(port)},
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    try:
        wait_until_up(f"http://127.0.0.1:{port}", process)
        yield port
    finally:
        process.send_signal(signal.SIGTERM)
        process.wait(timeout=20)


def test_api_curl_commands(shell: Shell, service: int, guide: str) -> None:
    """Every curl line answers 200 (port 8000 replaced by the test's port)."""
    shell.run("python scripts/db_helper.py seed --reviews 130", documented=False)
    curls = [line for line in bash_lines(guide) if line.startswith("curl ")]

    for line in curls:
        local = line.replace("localhost:8000", f"localhost:{service}")
        shell.run(local.replace("curl ", "curl -sf ", 1), documented=False)

    assert len(curls) >= 10


def test_postgres_steps(shell: Shell, checkout: Path, postgres_server: str) -> None:
    """With DATABASE_URL in .env, db_helper create makes the database; alembic runs."""
    url = re.sub(r"/[^/]*$", "/acr_guide_pg", pg_admin_url())
    (checkout / ".env").write_text(f"DATABASE_URL={url}\n")
    drop_pg_database(url)
    try:
        shell.run("python scripts/db_helper.py create")
        shell.run("alembic upgrade head")
        current = shell.run("alembic current")
        stats = shell.run("python scripts/db_helper.py stats")
    finally:
        drop_pg_database(url)

    assert "(head)" in current
    assert "0" in stats
