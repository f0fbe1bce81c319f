"""Parsing unified diffs: git's headers, plain diffs, numbering and refusals."""

from __future__ import annotations

import random

import pytest

from ai_code_reviewer.errors import InvalidDiff
from ai_code_reviewer.review.diff import parse_unified_diff, parse_unified_diff_bytes
from ai_code_reviewer.review.model import (
    Diff,
    DiffLine,
    FileDiff,
    FileStatus,
    Hunk,
    LineKind,
)


def lines(*text: str) -> str:
    """Join diff lines with LF and end the text with one."""
    return "\n".join(text) + "\n"


MODIFIED = lines(
    "diff --git a/src/app.py b/src/app.py",
    "index 3b18e51..a9c4f2d 100644",
    "--- a/src/app.py",
    "+++ b/src/app.py",
    "@@ -1,3 +1,4 @@ import os",
    " import os",
    "-import sys",
    "+import json",
    "+import re",
    " ",
    "@@ -10,2 +11,2 @@ def main():",
    "-    return 1",
    "+    return 0",
    "     # end",
)


def test_modified_file_numbers_every_line() -> None:
    """Removed and context lines carry old numbers, added and context lines new ones."""
    diff = parse_unified_diff(MODIFIED)

    [file] = diff.files
    assert (file.old_path, file.new_path, file.status) == (
        "src/app.py",
        "src/app.py",
        "modified",
    )
    first, second = file.hunks
    assert first.lines == (
        DiffLine("context", "import os", 1, 1),
        DiffLine("removed", "import sys", 2, None),
        DiffLine("added", "import json", None, 2),
        DiffLine("added", "import re", None, 3),
        DiffLine("context", "", 3, 4),
    )
    assert second.lines[-1] == DiffLine("context", "    # end", 11, 12)
    assert diff.counts() == (3, 2)


def test_new_file_has_no_old_path() -> None:
    """A file git marks as new is added, with /dev/null as its old side."""
    text = lines(
        "diff --git a/docs/new.md b/docs/new.md",
        "new file mode 100644",
        "index 0000000..e69de29",
        "--- /dev/null",
        "+++ b/docs/new.md",
        "@@ -0,0 +1,2 @@",
        "+# Title",
        "+Body",
    )

    [file] = parse_unified_diff(text).files

    assert (file.old_path, file.new_path, file.status) == (None, "docs/new.md", "added")
    assert [line.new_number for line in file.added_lines()] == [1, 2]


def test_deleted_file_has_no_new_path() -> None:
    """A file git marks as deleted keeps its old path and only removed lines."""
    text = lines(
        "diff --git a/old.txt b/old.txt",
        "deleted file mode 100644",
        "index e69de29..0000000",
        "--- a/old.txt",
        "+++ /dev/null",
        "@@ -1 +0,0 @@",
        "-gone",
    )

    [file] = parse_unified_diff(text).files

    assert (file.old_path, file.new_path, file.status) == ("old.txt", None, "deleted")
    assert file.path == "old.txt"
    assert file.hunks[0].lines == (DiffLine("removed", "gone", 1, None),)


def test_pure_rename_has_both_paths_and_no_hunk() -> None:
    """A rename with 100% similarity is read from its rename lines alone."""
    text = lines(
        "diff --git a/lib/old name.py b/lib/new name.py",
        "similarity index 100%",
        "rename from lib/old name.py",
        "rename to lib/new name.py",
    )

    [file] = parse_unified_diff(text).files

    assert file == FileDiff("lib/old name.py", "lib/new name.py", "renamed", ())


def test_rename_with_changes_keeps_its_hunks() -> None:
    """A rename that also edits the file is renamed and has the edit's hunk."""
    text = lines(
        "diff --git a/a.py b/b.py",
        "similarity index 80%",
        "rename from a.py",
        "rename to b.py",
        "index 1111111..2222222 100644",
        "--- a/a.py",
        "+++ b/b.py",
        "@@ -1 +1 @@",
        "-x = 1",
        "+x = 2",
    )

    [file] = parse_unified_diff(text).files

    assert (file.old_path, file.new_path, file.status) == ("a.py", "b.py", "renamed")
    assert file.added_lines() == [DiffLine("added", "x = 2", None, 1)]


def test_binary_files_line_marks_the_file_binary() -> None:
    """git's "Binary files ... differ" line gives a binary file with no hunks."""
    text = lines(
        "diff --git a/logo.png b/logo.png",
        "index 1111111..2222222 100644",
        "Binary files a/logo.png and b/logo.png differ",
    )

    [file] = parse_unified_diff(text).files

    assert file == FileDiff("logo.png", "logo.png", "binary", ())


def test_binary_patch_is_skipped_up_to_the_next_file() -> None:
    """The base85 lines of a GIT binary patch are not read as anything."""
    text = lines(
        "diff --git a/font.woff b/font.woff",
        "new file mode 100644",
        "index 0000000..5c3a9e1",
        "GIT binary patch",
        "literal 12",
        "Tcmd;KWMp7u;9y`-U|<9Q",
        "",
        "literal 0",
        "HcmV?d00001",
        "",
        "diff --git a/b.txt b/b.txt",
        "--- a/b.txt",
        "+++ b/b.txt",
        "@@ -1 +1 @@",
        "-a",
        "+b",
    )

    font, other = parse_unified_diff(text).files

    assert (font.new_path, font.status, font.hunks) == ("font.woff", "binary", ())
    assert other.added_lines() == [DiffLine("added", "b", None, 1)]


def test_plain_binary_line_without_git_header_is_a_file() -> None:
    """GNU diff's "Binary files x and y differ" alone names a binary file."""
    diff = parse_unified_diff("Binary files old/a.bin and new/a.bin differ\n")

    assert diff.files == (FileDiff("old/a.bin", "new/a.bin", "binary", ()),)


def test_mode_change_alone_is_a_modified_file_without_hunks() -> None:
    """old mode/new mode lines give a modified file with no hunk."""
    text = lines(
        "diff --git a/run.sh b/run.sh",
        "old mode 100644",
        "new mode 100755",
    )

    assert parse_unified_diff(text).files == (
        FileDiff("run.sh", "run.sh", "modified", ()),
    )


def test_no_newline_marker_is_not_a_line() -> None:
    """'\\ No newline at end of file' neither counts nor appears as a line."""
    text = lines(
        "--- a/f.txt",
        "+++ b/f.txt",
        "@@ -1 +1 @@",
        "-last",
        "\\ No newline at end of file",
        "+last",
        "\\ No newline at end of file",
    )

    [file] = parse_unified_diff(text).files

    assert file.hunks[0].lines == (
        DiffLine("removed", "last", 1, None),
        DiffLine("added", "last", None, 1),
    )


def test_crlf_line_endings_are_dropped() -> None:
    """A diff with CRLF endings parses as if it had LF endings."""
    crlf = MODIFIED.replace("\n", "\r\n")

    assert parse_unified_diff(crlf) == parse_unified_diff(MODIFIED)


def test_plain_unified_diff_without_git_header() -> None:
    """diff -u output with timestamps and no a/ b/ prefixes gives plain paths."""
    text = lines(
        "--- config.ini\t2025-01-07 09:30:00.000000000 +0100",
        "+++ config.ini.new\t2025-01-07 09:31:00.000000000 +0100",
        "@@ -2,0 +3 @@",
        "+debug = true",
    )

    [file] = parse_unified_diff(text).files

    assert (file.old_path, file.new_path, file.status) == (
        "config.ini",
        "config.ini.new",
        "modified",
    )
    assert file.hunks[0] == Hunk(
        2, 0, 3, 1, (DiffLine("added", "debug = true", None, 3),)
    )


def test_several_plain_files_follow_each_other() -> None:
    """Each ---/+++ pair after a hunk starts a new file."""
    text = lines(
        "--- a/one",
        "+++ b/one",
        "@@ -1 +1 @@",
        "-1",
        "+one",
        "--- a/two",
        "+++ b/two",
        "@@ -1 +1 @@",
        "-2",
        "+two",
    )

    assert [f.path for f in parse_unified_diff(text).files] == ["one", "two"]


def test_omitted_counts_mean_one() -> None:
    """A hunk header without counts promises one old and one new line."""
    text = lines("--- a/x", "+++ b/x", "@@ -7 +7 @@", "-a", "+b")

    [hunk] = parse_unified_diff(text).files[0].hunks

    assert (hunk.old_start, hunk.old_count, hunk.new_start, hunk.new_count) == (
        7,
        1,
        7,
        1,
    )


def test_lines_beyond_the_counts_end_the_hunk() -> None:
    """Text after a complete hunk (a mail signature) is not read into it."""
    text = lines("--- a/x", "+++ b/x", "@@ -1 +1 @@", "-a", "+b", "-- ", "2.43.0")

    [hunk] = parse_unified_diff(text).files[0].hunks

    assert len(hunk.lines) == 2


def test_quoted_paths_are_unquoted() -> None:
    """git's C-quoted paths with octal UTF-8 bytes come back as text."""
    text = lines(
        'diff --git "a/caf\\303\\251 \\"menu\\".txt" "b/caf\\303\\251 \\"menu\\".txt"',
        "new file mode 100644",
        "--- /dev/null",
        '+++ "b/caf\\303\\251 \\"menu\\".txt"',
        "@@ -0,0 +1 @@",
        "+cr\u00e8me",
    )

    [file] = parse_unified_diff(text).files

    assert file.new_path == 'caf\u00e9 "menu".txt'


@pytest.mark.parametrize("text", ["", "\n\n", "   \r\n"])
def test_empty_text_is_refused(text: str) -> None:
    """An empty diff is not something to review."""
    with pytest.raises(InvalidDiff, match="empty"):
        parse_unified_diff(text)


def test_text_without_header_or_hunk_is_refused() -> None:
    """Prose is not a diff, and the error says what was looked for."""
    with pytest.raises(InvalidDiff, match="no file header"):
        parse_unified_diff("Hello,\nplease review my change.\n")


def test_hunk_before_any_file_header_is_refused() -> None:
    """A hunk that belongs to no file is refused with its line number."""
    with pytest.raises(InvalidDiff, match=r"Line 2 .* no file header"):
        parse_unified_diff("notes\n@@ -1 +1 @@\n-a\n+b\n")


def test_malformed_hunk_header_names_file_and_line() -> None:
    """A broken @@ line is refused, naming the file and its line in the input."""
    text = lines("--- a/x.py", "+++ b/x.py", "@@ -1,a +1 @@", "-a", "+b")

    with pytest.raises(InvalidDiff, match=r"Line 3 of the diff \(x\.py\)"):
        parse_unified_diff(text)


def test_hunk_shorter_than_its_counts_names_file_and_line() -> None:
    """A hunk whose lines run out before its counts is refused where it breaks."""
    text = lines(
        "--- a/x.py",
        "+++ b/x.py",
        "@@ -1,3 +1,3 @@",
        " a",
        "-b",
        "+c",
        "diff --git a/y.py b/y.py",
    )

    with pytest.raises(InvalidDiff, match=r"line 3 .*\(x\.py\).*line 7 does not fit"):
        parse_unified_diff(text)


def test_hunk_cut_off_by_the_end_of_the_text_is_refused() -> None:
    """A diff that ends in the middle of a hunk is refused."""
    with pytest.raises(InvalidDiff, match="ends before them"):
        parse_unified_diff(lines("--- a/x", "+++ b/x", "@@ -1,2 +1,2 @@", " a"))


def test_bytes_that_are_not_utf8_do_not_crash() -> None:
    """Latin-1 bytes in a diff become replacement characters."""
    data = b"--- a/x\n+++ b/x\n@@ -1 +1 @@\n-caf\xe9\n+cafe\n"

    [file] = parse_unified_diff_bytes(data).files

    assert file.hunks[0].lines[0].text == "caf\ufffd"


TEXTS = ["", "x = 1", "  indented", "--- not a header", "+++ plus", "@@ no", "\\ no"]


def random_hunk(
    rng: random.Random, old_start: int, new_start: int, kinds: tuple[LineKind, ...]
) -> Hunk:
    """Return a hunk of random lines, numbered by counting them one by one."""
    body, old, new = [], old_start, new_start
    for _ in range(rng.randint(1, 6)):
        kind = rng.choice(kinds)
        old_number = None if kind == "added" else old
        new_number = None if kind == "removed" else new
        body.append(DiffLine(kind, rng.choice(TEXTS), old_number, new_number))
        old, new = old + (old_number is not None), new + (new_number is not None)
    return Hunk(old_start, old - old_start, new_start, new - new_start, tuple(body))


def random_hunks(rng: random.Random, status: str) -> list[Hunk]:
    """Return the hunks of a file: one for an added or deleted file, else up to 3."""
    if status == "added":
        return [random_hunk(rng, 0, 1, ("added",))]
    if status == "deleted":
        return [random_hunk(rng, 1, 0, ("removed",))]
    hunks = [random_hunk(rng, 1, 1, ("context", "removed", "added"))]
    for _ in range(rng.randint(0, 2)):
        last, gap = hunks[-1], rng.randint(1, 9)
        old, new = last.old_start + last.old_count, last.new_start + last.new_count
        hunks.append(
            random_hunk(rng, old + gap, new + gap, ("context", "removed", "added"))
        )
    return hunks


def render_hunk(rng: random.Random, hunk: Hunk) -> str:
    """Write a hunk the way git does, sometimes omitting counts of one."""

    def span(start: int, count: int) -> str:
        return str(start) if count == 1 and rng.random() < 0.5 else f"{start},{count}"

    marks = {"context": " ", "removed": "-", "added": "+"}
    head = f"@@ -{span(hunk.old_start, hunk.old_count)} "
    head += f"+{span(hunk.new_start, hunk.new_count)} @@ def f():"
    body = [marks[line.kind] + line.text for line in hunk.lines]
    # Editors trim the lone space of an empty context line; that must still parse.
    body = [line if line != " " or rng.random() < 0.5 else "" for line in body]
    if rng.random() < 0.3:
        body.append("\\ No newline at end of file")
    return "\n".join([head, *body])


def random_file(rng: random.Random, index: int) -> tuple[FileDiff, str]:
    """Return a random file diff and its git text."""
    statuses: list[FileStatus] = ["modified", "added", "deleted", "renamed"]
    status = rng.choice(statuses)
    old = None if status == "added" else f"pkg/old_{index}.py"
    new = f"pkg/new_{index}.py" if status in ("added", "renamed") else old
    new = None if status == "deleted" else new
    header = [f"diff --git a/{old or new} b/{new or old}"]
    if status == "added":
        header.append("new file mode 100644")
    if status == "deleted":
        header.append("deleted file mode 100644")
    if status == "renamed":
        header += ["similarity index 90%", f"rename from {old}", f"rename to {new}"]
    header += ["index 83db48f..bf269f4 100644"]
    header += [f"--- a/{old}" if old else "--- /dev/null"]
    header += [f"+++ b/{new}" if new else "+++ /dev/null"]
    hunks = random_hunks(rng, status)
    text = [render_hunk(rng, hunk) for hunk in hunks]
    return FileDiff(old, new, status, tuple(hunks)), "\n".join(header + text)


@pytest.mark.parametrize("seed", range(200))
def test_random_diffs_parse_back_to_what_made_them(seed: int) -> None:
    """Any diff written from random files parses back to the same files."""
    rng = random.Random(seed)
    made = [random_file(rng, index) for index in range(rng.randint(1, 4))]
    text = "\n".join(part for _, part in made) + "\n"
    if seed % 3 == 0:
        text = text.replace("\n", "\r\n")

    diff = parse_unified_diff(text)

    assert diff == Diff(files=tuple(file for file, _ in made))
