"""The image's layout works, built without Docker from docker/Dockerfile.

The final stage's instructions are replayed under a temporary root: the
wheel that the build stage makes is installed with constraints.txt into
<root>/opt/venv, the COPY lines copy from the checkout, and the service
starts from <root>/app through the entry point with the stage's ENV, its
paths moved under the root. What this does not check is named in
docs/DOCKER.md: the base image, apt packages, the user and the build itself.
"""

from __future__ import annotations

import os
import shutil
import signal
import subprocess
import sys
import time
import zipfile
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from string import Template

import httpx
import pytest

from tests.conftest import REPO_ROOT
from tests.integration.ops.dockerfiles import Stage, dockerfile_stages
from tests.integration.test_service import free_port

pytestmark = pytest.mark.slow

INSTALL_SECONDS = 300
READY_SECONDS = 30


@dataclass(frozen=True)
class ImageRoot:
    """The image's file system under a folder, and the final stage it came from."""

    root: Path
    stage: Stage
    wheel: Path

    def path(self, inside: str) -> Path:
        """Return where an absolute path of the image lives here."""
        return self.root / inside.lstrip("/")

    def environment(self, **extra: str) -> dict[str, str]:
        """Return the stage's ENV with /app and /opt moved under the root."""
        values = {"PATH": os.environ["PATH"], "HOME": str(self.root), "LANG": "C.UTF-8"}
        for key, value in self.stage.env().items():
            moved = value.replace("/app", f"{self.root}/app")
            moved = moved.replace("/opt/", f"{self.root}/opt/")
            values[key] = Template(moved).safe_substitute(values)
        values.update(extra)
        return values


def pip(*arguments: str, python: Path = Path(sys.executable)) -> None:
    """Run pip, failing with its output."""
    result = subprocess.run(
        [str(python), "-m", "pip", "--disable-pip-version-check", *arguments],
        cwd=REPO_ROOT,
        capture_output=True,
        text=True,
        timeout=INSTALL_SECONDS,
        check=False,
    )
    assert result.returncode == 0, result.stdout + result.stderr


def replay_copies(image: Path, stage: Stage) -> None:
    """Do the stage's COPY lines from the checkout; --from copies are the build's."""
    workdir = image / stage.last("WORKDIR").arguments.lstrip("/")
    for options, sources, destination in stage.copies():
        if any(option.startswith("--from") for option in options):
            continue
        target = (
            workdir / destination
            if not destination.startswith("/")
            else image / destination.lstrip("/")
        )
        for source in sources:
            origin = REPO_ROOT / source
            if origin.is_dir():
                shutil.copytree(
                    origin, target, ignore=shutil.ignore_patterns("__pycache__")
                )
            elif destination.endswith("/"):
                target.mkdir(parents=True, exist_ok=True)
                shutil.copy2(origin, target / origin.name)
            else:
                target.parent.mkdir(parents=True, exist_ok=True)
                shutil.copy2(origin, target)


@pytest.fixture(scope="module")
def image(tmp_path_factory: pytest.TempPathFactory) -> ImageRoot:
    """Build the wheel, install it as the build stage does, replay the COPY lines."""
    folder = tmp_path_factory.mktemp("image")
    final = dockerfile_stages()[-1]
    root = folder / "root"
    venv = root / "opt" / "venv"
    pip("wheel", "--no-deps", "--quiet", "-w", str(folder / "wheels"), ".")
    wheel = next((folder / "wheels").glob("ai_code_reviewer-*.whl"))
    subprocess.run([sys.executable, "-m", "venv", str(venv)], check=True, timeout=120)
    pip(
        "install",
        "--quiet",
        "-c",
        "constraints.txt",
        str(wheel),
        python=venv / "bin" / "python",
    )
    pip("check", python=venv / "bin" / "python")
    replay_copies(root, final)
    (root / "app" / "data").mkdir()  # RUN mkdir -p /app/data
    return ImageRoot(root, final, wheel)


@dataclass(frozen=True)
class Service:
    """A started service: its URL and the file its output goes to."""

    url: str
    log: Path

    def wait_until_ready(self) -> httpx.Response:
        """Poll /ready until it answers 200 or the time is up; return the answer."""
        deadline = time.monotonic() + READY_SECONDS
        while time.monotonic() < deadline:
            try:
                answer = httpx.get(f"{self.url}/ready", timeout=2)
                if answer.status_code == 200:
                    return answer
            except httpx.TransportError:
                pass
            time.sleep(0.2)
        raise AssertionError(f"not ready in {READY_SECONDS} s:\n{self.log.read_text()}")


@pytest.fixture(scope="module")
def service(image: ImageRoot) -> Iterator[Service]:
    """Start the image's ENTRYPOINT and CMD in <root>/app; yield it."""
    port = free_port()
    log = image.root.parent / "service.log"
    command = (
        image.stage.last("ENTRYPOINT").exec_form() + image.stage.last("CMD").exec_form()
    )
    command[0] = str(image.path("/usr/local/bin") / command[0])
    with log.open("wb") as output:
        process = subprocess.Popen(
            command,
            cwd=image.path(image.stage.last("WORKDIR").arguments),
            env=image.environment(PORT=str(port)),
            stdout=output,
            stderr=subprocess.STDOUT,
        )
    try:
        yield Service(f"http://127.0.0.1:{port}", log)
    finally:
        process.send_signal(signal.SIGTERM)
        process.wait(timeout=30)


def test_wheel_holds_every_data_file_of_the_package(image: ImageRoot) -> None:
    """Templates, prompts and other non-Python files of the package are in the wheel."""
    package = REPO_ROOT / "src" / "ai_code_reviewer"
    data_files = {
        str(path.relative_to(package.parent))
        for path in package.rglob("*")
        if path.is_file() and path.suffix not in {".py", ".pyc"}
    }

    with zipfile.ZipFile(image.wheel) as wheel:
        assert data_files <= set(wheel.namelist())


def test_service_is_ready_in_the_image_layout_with_its_database_in_data(
    image: ImageRoot, service: Service
) -> None:
    """/ready answers 200, the database is /app/data's, the health check passes."""
    answer = service.wait_until_ready()
    healthcheck = image.stage.last("HEALTHCHECK").arguments.split(" CMD ", 1)[1]
    port = service.url.rsplit(":", 1)[1]

    checked = subprocess.run(
        ["sh", "-c", healthcheck],
        env=image.environment(PORT=port),
        capture_output=True,
        text=True,
        timeout=30,
        check=False,
    )

    assert answer.status_code == 200, answer.text
    assert answer.json()["status"] == "ready"
    assert image.path("/app/data/ai_code_reviewer.db").is_file()
    assert checked.returncode == 0, checked.stderr


def test_backup_command_writes_into_the_volume(
    image: ImageRoot, service: Service
) -> None:
    """`ai-code-reviewer db backup`, as docker-backup runs it, writes in the volume."""
    service.wait_until_ready()

    result = subprocess.run(
        ["ai-code-reviewer", "db", "backup"],
        cwd=image.path("/app"),
        env=image.environment(),
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )

    assert result.returncode == 0, result.stderr
    written = Path(result.stdout.strip().splitlines()[-1])
    assert written.parent == image.path("/app/data/backups")
    assert written.name.startswith("ai_code_reviewer_")
