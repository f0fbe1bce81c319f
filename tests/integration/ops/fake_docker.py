"""A stand-in for the docker command, for testing scripts/docker_*.sh.

Run as ``python fake_docker.py ARGS...`` through a ``docker`` shim on PATH.
Its state lives in $FAKE_DOCKER_DIR: ``state.json`` (what the test set up),
``calls.jsonl`` (every command line, one JSON list a line) and ``container/``
(the app container's file system). It answers the commands the scripts use:
compose ps, config, build, up, stop, run; exec, cp, inspect and tag.
"""

from __future__ import annotations

import json
import os
import shutil
import sys
from pathlib import Path
from typing import Any

CONTAINER_ID = "c0ffee"
OLD_IMAGE = "sha256:0ld"
COMPOSE_OPTIONS_WITH_VALUE = {"-f", "--file", "--profile", "--env-file", "-p"}


def say(line: str) -> None:
    """Write one line of output, as docker does on stdout."""
    sys.stdout.write(f"{line}\n")


class FakeDocker:
    """Answer one docker command line from the state folder."""

    def __init__(self, folder: Path) -> None:
        self.folder = folder
        self.state: dict[str, Any] = json.loads((folder / "state.json").read_text())
        self.root = folder / "container"

    def save(self) -> None:
        """Write the state back for the next command."""
        (self.folder / "state.json").write_text(json.dumps(self.state))

    def inside(self, path: str) -> Path:
        """Return where a path of the container lives on this machine."""
        return self.root / path.lstrip("/")

    def run(self, argv: list[str]) -> int:
        """Answer ``docker argv``; return the exit code."""
        with (self.folder / "calls.jsonl").open("a") as log:
            log.write(json.dumps(argv) + "\n")
        command, rest = argv[0], argv[1:]
        handler = getattr(self, f"do_{command}", None)
        if handler is None:
            sys.stderr.write(f"fake docker: unknown command {command}\n")
            return 125
        code: int = handler(rest)
        self.save()
        return code

    def do_compose(self, argv: list[str]) -> int:
        """Answer ``docker compose [options] SUBCOMMAND ...``."""
        words = iter(argv)
        for word in words:
            if word in COMPOSE_OPTIONS_WITH_VALUE:
                next(words)
                continue
            if word == "ps":
                say(CONTAINER_ID if self.state["running"] else "")
            elif word == "config":
                say("\n".join(self.state.get("services", ["app", "worker"])))
            elif word == "up":
                self.state["ups"] = self.state.get("ups", 0) + 1
            elif word == "run":
                return int(self.state.get("run_exit", 0))
            return 0
        return 1

    def do_exec(self, argv: list[str]) -> int:
        """Answer ``docker exec [-u USER] ID COMMAND...``."""
        if argv[0] == "-u":
            argv = argv[2:]
        command = argv[1:]
        if command[:3] == ["ai-code-reviewer", "db", "backup"]:
            written = "/app/data/backups/" + self.state["backup_name"]
            self.inside(written).parent.mkdir(parents=True, exist_ok=True)
            self.inside(written).write_text("backup taken inside")
            say(written)
        elif command[:3] == ["ai-code-reviewer", "db", "restore"]:
            offered = self.inside(command[command.index("--file") + 1])
            return 0 if offered.is_file() else 1
        elif command[:2] == ["rm", "-f"]:
            self.inside(command[2]).unlink(missing_ok=True)
        return 0

    def do_cp(self, argv: list[str]) -> int:
        """Answer ``docker cp`` in either direction."""
        source, target = argv
        prefix = f"{CONTAINER_ID}:"
        if source.startswith(prefix):
            shutil.copyfile(self.inside(source.removeprefix(prefix)), target)
        else:
            copied = self.inside(target.removeprefix(prefix))
            copied.parent.mkdir(parents=True, exist_ok=True)
            shutil.copyfile(source, copied)
        return 0

    def do_inspect(self, argv: list[str]) -> int:
        """Answer ``docker inspect --format F ID``: the image, or state and health."""
        if "{{.Image}}" in argv[1]:
            say(OLD_IMAGE)
            return 0
        health = self.state["health"]
        say(f"running 0 {health[min(self.state.get('ups', 1), len(health)) - 1]}")
        return 0

    def do_tag(self, argv: list[str]) -> int:
        """Accept ``docker tag``."""
        return 0


if __name__ == "__main__":
    sys.exit(FakeDocker(Path(os.environ["FAKE_DOCKER_DIR"])).run(sys.argv[1:]))
