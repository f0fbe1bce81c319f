"""Prompts from the versioned files: rules, languages, guidelines, numbered lines."""

from __future__ import annotations

import re

import pytest

from ai_code_reviewer.review.budget import Chunk, plan_chunks
from ai_code_reviewer.review.diff import parse_unified_diff
from ai_code_reviewer.review.prompt import (
    build_prompt,
    languages,
    numbered_diff,
    prompt_version,
    system_prompt,
)

DIFF = """\
diff --git a/src/app.py b/src/app.py
--- a/src/app.py
+++ b/src/app.py
@@ -98,3 +98,4 @@
 def main():
-    run(1)
+    run(2)
+    log()
     return 0
diff --git a/web/old.ts b/web/new.ts
similarity index 90%
rename from web/old.ts
rename to web/new.ts
--- a/web/old.ts
+++ b/web/new.ts
@@ -1,1 +1,1 @@
-let x = 1;
+const x = 1;
"""


def chunk() -> Chunk:
    """Return the one chunk of DIFF."""
    [only] = plan_chunks(parse_unified_diff(DIFF).files, 100_000).chunks
    return only


def test_the_prompt_version_is_a_dated_version() -> None:
    """VERSION holds a date and a serial number."""
    assert re.fullmatch(r"\d{4}-\d{2}-\d{2}\.\d+", prompt_version())


def test_the_system_prompt_states_rules_scales_and_answer_shape() -> None:
    """The system prompt asks for new-file lines on added lines and only the JSON."""
    system = system_prompt()

    assert "only comment on lines the change adds" in system.lower()
    assert "new-file line numbers" in system
    for word in ("critical", "major", "minor", "info", "security", "maintainability"):
        assert word in system
    assert '"findings"' in system
    assert "Team guidelines" not in system


def test_guidelines_go_into_the_system_prompt() -> None:
    """The team's guidelines text appears under its own heading."""
    system = system_prompt(guidelines="  All SQL goes through the repository.  \n")

    assert "## Team guidelines" in system
    assert "All SQL goes through the repository." in system


@pytest.mark.parametrize(
    ("paths", "expected"),
    [
        (["a.py", "b.PY"], ("python",)),
        (["web/x.tsx", "y.mjs"], ("javascript",)),
        (
            ["Main.java", "db/001.sql", "run.sh", "srv.go"],
            ("go", "java", "shell", "sql"),
        ),
        (["README.md", "Makefile"], ()),
    ],
)
def test_languages_are_chosen_by_extension(
    paths: list[str], expected: tuple[str, ...]
) -> None:
    """Each language with notes is chosen once from the file extensions."""
    assert languages(paths) == expected


def test_a_chunk_gets_the_notes_of_its_languages_only() -> None:
    """A chunk of Python and TypeScript carries those two notes and no other."""
    system, _ = build_prompt(chunk(), "1", "1")

    assert "Python:" in system
    assert "JavaScript and TypeScript:" in system
    assert "Go:" not in system
    assert "Shell:" not in system


def test_the_user_prompt_names_the_title_part_and_files() -> None:
    """The user prompt states the change's title, its part and the files in it."""
    _, user = build_prompt(chunk(), "2", "3", title="Run twice")

    assert "Change: Run twice" in user
    assert "part 2 of 3" in user
    assert "- src/app.py\n" in user
    assert "- web/new.ts (renamed from web/old.ts)\n" in user


def test_the_user_prompt_leaves_out_a_missing_title() -> None:
    """Without a title there is no Change line."""
    _, user = build_prompt(chunk(), "1", "1")

    assert "Change:" not in user


def test_each_line_shows_its_new_file_number() -> None:
    """Added and context lines carry their new number; removed lines carry none."""
    lines = numbered_diff(chunk()).splitlines()

    assert "  98  def main():" in lines
    assert "     -    run(1)" in lines
    assert "  99 +    run(2)" in lines
    assert " 100 +    log()" in lines
    assert " 101      return 0" in lines
    assert "### src/app.py" in lines
