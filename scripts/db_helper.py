#!/usr/bin/env python3
"""Run the database maintenance commands from a source checkout.

``python scripts/db_helper.py <command>`` is ``ai-code-reviewer db <command>``;
``python scripts/db_helper.py --help`` lists the commands. It works before the
package is installed: it puts ``src/`` on the import path, and when this
interpreter lacks the project's dependencies it runs itself again with the
checkout's ``.venv/bin/python``.
"""

from __future__ import annotations

import os
import sys
from pathlib import Path
from typing import NoReturn

REPO = Path(__file__).resolve().parents[1]
VENV_PYTHON = REPO / ".venv" / "bin" / "python"
# Set before re-running, so that a broken virtualenv cannot loop forever.
REEXEC_MARK = "AI_CODE_REVIEWER_DB_HELPER_REEXEC"


def running_in_venv() -> bool:
    """Tell whether this interpreter is the checkout's virtualenv."""
    return Path(sys.prefix).resolve() == VENV_PYTHON.parents[1].resolve()


def reexec_or_exit(problem: ImportError) -> NoReturn:
    """Run this script again with the virtualenv's Python, or explain and exit."""
    if (
        VENV_PYTHON.is_file()
        and not running_in_venv()
        and REEXEC_MARK not in os.environ
    ):
        os.environ[REEXEC_MARK] = "1"
        script = str(Path(__file__).resolve())
        # The program is the checkout's own interpreter; no shell is involved.
        os.execv(VENV_PYTHON, [str(VENV_PYTHON), script, *sys.argv[1:]])  # noqa: S606
    sys.stderr.write(
        f"db_helper.py: the project's dependencies cannot be imported ({problem}); "
        "run `make install`, or `pip install -e .` in your environment, first.\n"
    )
    raise SystemExit(2)


def main() -> None:
    """Run the ``db`` command group with this script's arguments."""
    sys.path.insert(0, str(REPO / "src"))
    try:
        from ai_code_reviewer.dbtools.commands import db
    except ImportError as problem:
        reexec_or_exit(problem)
    db.main(prog_name=f"python {os.path.relpath(__file__)}")


if __name__ == "__main__":
    main()
