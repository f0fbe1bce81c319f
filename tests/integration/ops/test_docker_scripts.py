"""scripts/docker_*.sh do what the make targets promise, against a fake docker.

The fake (fake_docker.py) keeps the app container's files in a folder and
records every command, so each test checks what reached the host and which
docker commands ran, in which order. The entry point runs for real.
"""

from __future__ import annotations

import json
import os
import sqlite3
import subprocess
import sys
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest

from tests.conftest import REPO_ROOT, sqlite_url
from tests.integration.ops.fake_docker import CONTAINER_ID, OLD_IMAGE

SCRIPTS = REPO_ROOT / "scripts"
BACKUP_NAME = "ai_code_reviewer_20260301_120000.db"

Run = Callable[..., subprocess.CompletedProcess[str]]


class FakeDockerHost:
    """A machine whose docker command is the fake, and its backups folder."""

    def __init__(self, folder: Path) -> None:
        self.folder = folder
        self.backups = folder / "backups"
        self.bin = folder / "bin"
        self.bin.mkdir()
        shim = self.bin / "docker"
        fake = Path(__file__).with_name("fake_docker.py")
        shim.write_text(f'#!/bin/sh\nexec "{sys.executable}" "{fake}" "$@"\n')
        shim.chmod(0o755)
        self.set_state(running=True, health=["healthy"])

    def set_state(self, **state: Any) -> None:
        """Set what the fake answers."""
        state.setdefault("backup_name", BACKUP_NAME)
        (self.folder / "state.json").write_text(json.dumps(state))

    def calls(self) -> list[list[str]]:
        """Return the docker command lines run so far."""
        log = self.folder / "calls.jsonl"
        lines = log.read_text().splitlines() if log.exists() else []
        return [json.loads(line) for line in lines]

    def run(
        self, script: str, *arguments: str, **env: str
    ) -> subprocess.CompletedProcess[str]:
        """Run scripts/``script`` with the fake docker first on PATH."""
        values = {
            "PATH": f"{self.bin}{os.pathsep}{os.environ['PATH']}",
            "FAKE_DOCKER_DIR": str(self.folder),
            "HOST_BACKUP_DIR": str(self.backups),
            **env,
        }
        return subprocess.run(
            [str(SCRIPTS / script), *arguments],
            env=values,
            capture_output=True,
            text=True,
            timeout=60,
            check=False,
        )


@pytest.fixture
def host(tmp_path: Path) -> FakeDockerHost:
    """Return a fake Docker host with a running, healthy app container."""
    return FakeDockerHost(tmp_path)


def old_backups(folder: Path, count: int) -> list[Path]:
    """Write ``count`` backups of January 2026 into ``folder``, oldest first."""
    folder.mkdir(parents=True, exist_ok=True)
    paths = [
        folder / f"ai_code_reviewer_202601{day:02d}_000000.db"
        for day in range(1, count + 1)
    ]
    for path in paths:
        path.write_text("old")
    return paths


def restore_command(staged: str) -> list[str]:
    """Return the restore command the scripts run on the staged file."""
    return ["ai-code-reviewer", "db", "restore", "--file", staged, "--yes"]


def steps_of(calls: list[list[str]]) -> list[str]:
    """Name each docker call: compose's subcommand, a tag's source, or the verb."""
    steps = []
    for call in calls:
        if call[0] == "compose":
            options = {i for i, word in enumerate(call) if word.startswith("-")}
            values = {i + 1 for i in options}
            steps.append(
                next(w for i, w in enumerate(call[1:], 1) if i not in options | values)
            )
        else:
            steps.append(f"tag {call[1]}" if call[0] == "tag" else call[0])
    return steps


def test_backup_copies_the_inside_backup_and_keeps_the_newest_ten(
    host: FakeDockerHost,
) -> None:
    """The backup taken inside lands in ./backups, linked as latest; 10 are kept."""
    old = old_backups(host.backups, 11)

    result = host.run("docker_backup.sh")

    assert result.returncode == 0, result.stderr
    copy = host.backups / BACKUP_NAME
    assert result.stdout.strip().splitlines()[-1] == str(copy)
    assert copy.read_text() == "backup taken inside"
    assert os.readlink(host.backups / "latest_backup.db") == BACKUP_NAME
    kept = sorted(host.backups.glob("ai_code_reviewer_*.db"))
    assert kept == [*old[2:], copy]
    assert f"Removed old backup {old[0]}" in result.stderr
    assert ["exec", CONTAINER_ID, "ai-code-reviewer", "db", "backup"] in host.calls()


def test_backup_keeps_backup_keep_copies(host: FakeDockerHost) -> None:
    """BACKUP_KEEP changes how many backups stay in ./backups."""
    old_backups(host.backups, 5)

    result = host.run("docker_backup.sh", BACKUP_KEEP="2")

    assert result.returncode == 0, result.stderr
    assert len(list(host.backups.glob("ai_code_reviewer_*.db"))) == 2


def test_backup_refuses_when_the_app_is_not_running(host: FakeDockerHost) -> None:
    """Without a running app container nothing is copied and the reason is said."""
    host.set_state(running=False, health=["healthy"])

    result = host.run("docker_backup.sh")

    assert result.returncode == 1
    assert "the app container is not running" in result.stderr
    assert not host.backups.exists()


def test_restore_copies_in_then_restores_inside(
    host: FakeDockerHost, tmp_path: Path
) -> None:
    """The file is copied in, given to the app user, restored with --yes, removed."""
    offered = tmp_path / "backup.db"
    offered.write_text("a backup")
    staged = "/tmp/restore-backup.db"  # noqa: S108  # in the container

    result = host.run("docker_restore.sh", str(offered))

    assert result.returncode == 0, result.stderr
    assert host.calls()[1:] == [
        ["cp", str(offered), f"{CONTAINER_ID}:{staged}"],
        ["exec", "-u", "0", CONTAINER_ID, "chown", "app:app", staged],
        ["exec", CONTAINER_ID, *restore_command(staged)],
        ["exec", "-u", "0", CONTAINER_ID, "rm", "-f", staged],
    ]


def test_restore_refuses_a_missing_file(host: FakeDockerHost) -> None:
    """A file that does not exist stops the restore before any docker command."""
    result = host.run("docker_restore.sh", "no-such-backup.db")

    assert result.returncode == 1
    assert "no such backup file" in result.stderr
    assert host.calls() == []


def test_upgrade_backs_up_tags_the_running_image_then_rebuilds(
    host: FakeDockerHost,
) -> None:
    """A healthy new release: backup, :previous tag, build, recreate, exit 0."""
    result = host.run("docker_upgrade.sh")

    assert result.returncode == 0, result.stderr
    assert "the new release is ready" in result.stdout
    steps = [step for step in steps_of(host.calls()) if step not in {"ps", "inspect"}]
    assert steps == ["exec", "cp", f"tag {OLD_IMAGE}", "config", "build", "up"]
    up = next(call for call in host.calls() if "up" in call)
    assert up[-4:] == ["-d", "--force-recreate", "app", "worker"]
    assert (host.backups / BACKUP_NAME).is_file()


def test_upgrade_rolls_back_and_restores_when_the_new_release_is_unhealthy(
    host: FakeDockerHost,
) -> None:
    """Unhealthy: :previous becomes :latest, the backup is restored, exit 1."""
    host.set_state(running=True, health=["unhealthy", "healthy"], services=["app"])

    result = host.run("docker_upgrade.sh")

    assert result.returncode == 1
    assert "rolled back to ai-code-reviewer:previous" in result.stderr
    rollback = host.calls()[
        host.calls().index(
            ["tag", "ai-code-reviewer:previous", "ai-code-reviewer:latest"]
        ) :
    ]
    staged = f"/tmp/{BACKUP_NAME}"  # noqa: S108  # in the container
    assert rollback[1][-2:] == ["stop", "app"]
    assert rollback[2][-14:] == [
        *["run", "--rm", "--no-deps", "--name", "ai-code-reviewer-rollback"],
        *["-v", f"{host.backups / BACKUP_NAME}:{staged}:ro", "app"],
        *restore_command(staged),
    ]
    assert rollback[3][-4:] == ["up", "-d", "--force-recreate", "app"]


def test_upgrade_gives_up_after_the_ready_timeout(host: FakeDockerHost) -> None:
    """A release that stays 'starting' is rolled back after READY_TIMEOUT."""
    host.set_state(running=True, health=["starting"], services=["app"])

    result = host.run("docker_upgrade.sh", READY_TIMEOUT="0", READY_POLL_SECONDS="0.2")

    assert result.returncode == 1
    assert "the app is not ready (running 0 starting)" in result.stderr
    assert "the previous release is not ready either" in result.stderr


def test_upgrade_stops_when_the_backup_fails(host: FakeDockerHost) -> None:
    """Without a running app there is no backup, so nothing is built or tagged."""
    host.set_state(running=False, health=["healthy"])

    result = host.run("docker_upgrade.sh")

    assert result.returncode == 1
    assert not any(call[0] == "tag" or "build" in call for call in host.calls())


def make_database(path: Path) -> None:
    """Write a small SQLite database holding one row."""
    path.parent.mkdir(parents=True, exist_ok=True)
    with sqlite3.connect(path) as connection:
        connection.execute("CREATE TABLE t (x)")
        connection.execute("INSERT INTO t VALUES (1)")
    connection.close()


def entrypoint(database_url: str, *command: str) -> subprocess.CompletedProcess[str]:
    """Run the image's entry point with DATABASE_URL and ``command``."""
    return subprocess.run(
        [str(SCRIPTS / "docker_entrypoint.sh"), *command],
        env={**os.environ, "DATABASE_URL": database_url},
        capture_output=True,
        text=True,
        timeout=30,
        check=False,
    )


@pytest.mark.skipif(
    os.geteuid() != 0, reason="giving a file to another user needs root"
)
def test_entrypoint_adopts_a_database_copied_in_by_another_user(tmp_path: Path) -> None:
    """A docker cp'd database becomes ours; the replaced database's -wal goes."""
    db = tmp_path / "ai_code_reviewer.db"
    make_database(db)
    for stale in ("-wal", "-shm"):
        Path(f"{db}{stale}").write_bytes(b"left by the replaced database")
    os.chown(db, 4242, 4242)

    result = entrypoint(sqlite_url(db), "echo", "started")

    assert result.returncode == 0, result.stderr
    assert result.stdout == "started\n"
    assert db.stat().st_uid == os.geteuid()
    assert not Path(f"{db}-wal").exists()
    assert not Path(f"{db}-shm").exists()
    with sqlite3.connect(db) as connection:
        assert connection.execute("SELECT x FROM t").fetchall() == [(1,)]
    connection.close()


def test_entrypoint_leaves_its_own_database_alone(tmp_path: Path) -> None:
    """A database the service wrote keeps its -wal: it may hold committed rows."""
    db = tmp_path / "ai_code_reviewer.db"
    make_database(db)
    wal = Path(f"{db}-wal")
    wal.write_bytes(b"committed rows")
    inode = db.stat().st_ino

    result = entrypoint(sqlite_url(db), "true")

    assert result.returncode == 0, result.stderr
    assert result.stderr == ""
    assert db.stat().st_ino == inode
    assert wal.read_bytes() == b"committed rows"


def test_entrypoint_runs_the_command_for_postgresql() -> None:
    """On PostgreSQL there is no file to look at; the command just runs."""
    url = "postgresql+asyncpg://u:p@postgres/db"

    result = entrypoint(url, "sh", "-c", "exit 7")

    assert result.returncode == 7
