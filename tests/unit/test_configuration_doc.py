"""docs/CONFIGURATION.md lists every setting once, with its real default."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

from ai_code_reviewer.settings import Settings

REPO_ROOT = Path(__file__).resolve().parents[2]
DOC = REPO_ROOT / "docs" / "CONFIGURATION.md"
HEADER = ["Variable", "Type", "Default", "Description", "Example"]
UNSET = "*unset*"


def split_row(line: str) -> list[str]:
    """Return the cells of a Markdown table row, stripped."""
    return [cell.strip() for cell in line.strip().strip("|").split("|")]


def setting_rows() -> list[list[str]]:
    """Return the rows of every table whose header is that of the settings."""
    rows, in_table = [], False
    for line in DOC.read_text().splitlines():
        if not line.startswith("|"):
            in_table = False
        elif split_row(line) == HEADER:
            in_table = True
        elif in_table and not set(line) <= set("|- "):
            rows.append(split_row(line))
    return rows


def code(cell: str) -> str:
    """Return the text of a cell written as one `code` span."""
    match = re.fullmatch(r"`([^`]*)`", cell)
    assert match, f"{cell!r} is not one `code` span"
    return match[1]


ROWS = {code(row[0]).lower(): row for row in setting_rows()}


def test_every_setting_has_one_row_and_every_row_a_setting() -> None:
    """The tables name each field of Settings once, and nothing else."""
    names = [code(row[0]).lower() for row in setting_rows()]

    assert sorted(names) == sorted(Settings.model_fields)


@pytest.mark.parametrize("name", sorted(Settings.model_fields))
def test_documented_default_is_the_real_one(name: str) -> None:
    """Each row's default, read as the variable would be, is the field's default."""
    _variable, kind, default, description, example = ROWS[name]
    field = Settings.model_fields[name]

    if default == UNSET:
        assert field.default is None
    else:
        assert getattr(read(name, code(default)), name) == field.default
    assert kind and description and read(name, code(example))


def read(name: str, value: str) -> Settings:
    """Return the settings with ``name`` given ``value``, as from the environment."""
    return Settings(_env_file=None, **{name: value})  # type: ignore[arg-type]
