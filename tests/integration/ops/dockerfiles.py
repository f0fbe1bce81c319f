"""Read docker/Dockerfile, the compose files and .dockerignore as Docker would.

Docker cannot run in CI here, so the tests read these files: a Dockerfile is
parsed into stages of instructions (continuation lines joined, comments
dropped, ARG defaults put into FROM), compose files are plain YAML.
"""

from __future__ import annotations

import json
import re
import shlex
from dataclasses import dataclass, field
from pathlib import Path
from string import Template
from typing import Any

import yaml

from tests.conftest import REPO_ROOT

DOCKERFILE = REPO_ROOT / "docker" / "Dockerfile"
COMPOSE = REPO_ROOT / "docker" / "docker-compose.yml"
COMPOSE_DEV = REPO_ROOT / "docker" / "docker-compose.dev.yml"


@dataclass(frozen=True)
class Instruction:
    """One Dockerfile instruction: its keyword, upper-case, and its arguments."""

    keyword: str
    arguments: str

    def exec_form(self) -> list[str]:
        """Return the JSON (exec) form of the arguments as a list."""
        parsed: list[str] = json.loads(self.arguments)
        return parsed


@dataclass
class Stage:
    """One build stage: its base image, its name and its instructions."""

    base: str
    name: str | None
    instructions: list[Instruction] = field(default_factory=list)

    def arguments(self, keyword: str) -> list[str]:
        """Return the arguments of every ``keyword`` instruction, in order."""
        return [i.arguments for i in self.instructions if i.keyword == keyword]

    def last(self, keyword: str) -> Instruction:
        """Return the last ``keyword`` instruction, which is the one that counts."""
        return [i for i in self.instructions if i.keyword == keyword][-1]

    def env(self) -> dict[str, str]:
        """Return the variables the stage's ENV instructions set, unexpanded."""
        values: dict[str, str] = {}
        for arguments in self.arguments("ENV"):
            for pair in shlex.split(arguments):
                key, _, value = pair.partition("=")
                values[key] = value
        return values

    def copies(self) -> list[tuple[list[str], list[str], str]]:
        """Return each COPY as (options, sources, destination)."""
        found = []
        for arguments in self.arguments("COPY"):
            words = arguments.split()
            options = [word for word in words if word.startswith("--")]
            paths = [word for word in words if not word.startswith("--")]
            found.append((options, paths[:-1], paths[-1]))
        return found


def instructions(text: str) -> list[Instruction]:
    """Split a Dockerfile into instructions, joining continued lines."""
    logical = re.sub(r"\\\n", " ", text)
    found = []
    for line in logical.splitlines():
        stripped = line.strip()
        if not stripped or stripped.startswith("#"):
            continue
        keyword, _, arguments = stripped.partition(" ")
        found.append(Instruction(keyword.upper(), " ".join(arguments.split())))
    return found


def stages(text: str) -> list[Stage]:
    """Parse a Dockerfile into its stages, with ARG defaults put into FROM."""
    args: dict[str, str] = {}
    parsed: list[Stage] = []
    for instruction in instructions(text):
        if instruction.keyword == "ARG" and not parsed:
            arg, _, default = instruction.arguments.partition("=")
            args[arg] = default
        elif instruction.keyword == "FROM":
            words = Template(instruction.arguments).substitute(args).split()
            name = words[2] if len(words) == 3 and words[1].upper() == "AS" else None
            parsed.append(Stage(base=words[0], name=name))
        else:
            parsed[-1].instructions.append(instruction)
    return parsed


def dockerfile_stages() -> list[Stage]:
    """Return the stages of docker/Dockerfile."""
    return stages(DOCKERFILE.read_text())


def load_compose(path: Path) -> dict[str, Any]:
    """Return a compose file as data (YAML anchors and merge keys resolved)."""
    loaded: dict[str, Any] = yaml.safe_load(path.read_text())
    return loaded


def sqlite_path(database_url: str) -> str:
    """Return the file of an absolute SQLite URL (four slashes)."""
    prefix = "sqlite+aiosqlite:///"
    assert database_url.startswith(prefix + "/"), database_url
    return database_url.removeprefix(prefix)
