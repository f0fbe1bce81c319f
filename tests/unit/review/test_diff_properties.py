"""Properties of the unified diff parser, checked on generated diffs and noise."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from ai_code_reviewer.errors import InvalidDiff
from ai_code_reviewer.review.bitbucket_diff import to_unified_diff
from ai_code_reviewer.review.diff import parse_unified_diff, parse_unified_diff_bytes
from ai_code_reviewer.review.model import (
    Diff,
    DiffLine,
    FileDiff,
    FileStatus,
    Hunk,
    LineKind,
)

FAST = settings(
    max_examples=150,
    deadline=None,
    suppress_health_check=[HealthCheck.too_slow],
)
NO_NEWLINE = "\\ No newline at end of file"

# Letters git leaves alone, letters it C-quotes as octal UTF-8, and the
# characters it escapes, a carriage return among them.
PATH_CHARACTERS = "abcXYZ019 ._-" + "\u00e9\u00fc\u00df\u0436\u4e2d\u00f1" + '"\\\t\n\r'
path_parts = st.text(alphabet=PATH_CHARACTERS, min_size=1, max_size=6)
paths = st.lists(path_parts, min_size=1, max_size=3).map("/".join)

# Any text without a line feed; a carriage return may appear, but not last,
# since the parser drops one at the end of a line (CRLF diffs).
line_texts = st.text(
    alphabet=st.one_of(
        st.characters(exclude_characters="\n", exclude_categories=["Cs"]),
        st.sampled_from("\t\r \u00e9\u4e2d\u2028\x0c\x85"),
    ),
    max_size=12,
).map(lambda text: text.rstrip("\r"))


@st.composite
def hunk_at(
    draw: st.DrawFn, old_start: int, new_start: int, kinds: tuple[LineKind, ...]
) -> Hunk:
    """Draw a hunk of lines of ``kinds``, numbered one by one from its starts."""
    drawn = draw(st.lists(st.tuples(st.sampled_from(kinds), line_texts), min_size=1))
    lines, old, new = [], old_start, new_start
    for kind, text in drawn:
        old_number = None if kind == "added" else old
        new_number = None if kind == "removed" else new
        lines.append(DiffLine(kind, text, old_number, new_number))
        old, new = old + (old_number is not None), new + (new_number is not None)
    return Hunk(old_start, old - old_start, new_start, new - new_start, tuple(lines))


@st.composite
def edit_hunks(draw: st.DrawFn) -> tuple[Hunk, ...]:
    """Draw up to three hunks in file order, with a gap between each two."""
    hunks: list[Hunk] = []
    old = new = draw(st.integers(1, 50))
    for _ in range(draw(st.integers(0, 3))):
        kinds: tuple[LineKind, ...] = ("context", "removed", "added")
        hunk = draw(hunk_at(old, new, kinds))
        hunks.append(hunk)
        gap = draw(st.integers(1, 20))
        old = hunk.old_start + hunk.old_count + gap
        new = hunk.new_start + hunk.new_count + gap
    return tuple(hunks)


@st.composite
def file_diffs(draw: st.DrawFn) -> FileDiff:
    """Draw one file's change of any status, with hunks that fit the status."""
    status: FileStatus = draw(
        st.sampled_from(["modified", "added", "deleted", "renamed", "binary"])
    )
    old, new = draw(paths), draw(paths)
    if status == "added":
        hunks = draw(st.lists(hunk_at(0, 1, ("added",)), max_size=1))
        return FileDiff(None, new, status, tuple(hunks))
    if status == "deleted":
        hunks = draw(st.lists(hunk_at(1, 0, ("removed",)), max_size=1))
        return FileDiff(old, None, status, tuple(hunks))
    if status == "binary":
        sides = draw(
            st.sampled_from([(None, new), (old, None), (old, old), (old, new)])
        )
        return FileDiff(*sides, status)
    return FileDiff(
        old, old if status == "modified" else new, status, draw(edit_hunks())
    )


def with_markers(text: str, draw: Callable[[st.SearchStrategy[Any]], Any]) -> str:
    """Put '\\ No newline at end of file' after some hunk lines, as git may."""
    out: list[str] = []
    in_hunk = False
    for row in text.split("\n"):
        out.append(row)
        in_hunk = (in_hunk or row.startswith("@@")) and not row.startswith("diff ")
        if in_hunk and not row.startswith("@@") and draw(st.booleans()):
            out.append(NO_NEWLINE)
    return "\n".join(out)


@FAST
@given(files=st.lists(file_diffs(), min_size=1, max_size=4))
def test_written_diff_parses_back_to_the_same_files(files: list[FileDiff]) -> None:
    """Files, statuses, paths, hunks, line kinds, texts and numbers survive a trip."""
    diff = Diff(tuple(files))

    parsed = parse_unified_diff(to_unified_diff(diff))

    assert parsed == diff


@FAST
@given(files=st.lists(file_diffs(), min_size=1, max_size=3), data=st.data())
def test_no_newline_markers_change_nothing(files: list[FileDiff], data: Any) -> None:
    """'\\ No newline at end of file' lines anywhere in hunks are not lines."""
    diff = Diff(tuple(files))
    text = with_markers(to_unified_diff(diff), data.draw)

    parsed = parse_unified_diff(text)

    assert parsed == diff


def assert_numbers_follow_headers(diff: Diff) -> None:
    """Check that each hunk's numbers count up from its starts to its counts."""
    for file in diff.files:
        for hunk in file.hunks:
            old = [line.old_number for line in hunk.lines if line.kind != "added"]
            new = [line.new_number for line in hunk.lines if line.kind != "removed"]
            assert old == list(range(hunk.old_start, hunk.old_start + hunk.old_count))
            assert new == list(range(hunk.new_start, hunk.new_start + hunk.new_count))
            added = [line for line in hunk.lines if line.kind == "added"]
            removed = [line for line in hunk.lines if line.kind == "removed"]
            assert all(line.old_number is None for line in added)
            assert all(line.new_number is None for line in removed)


@FAST
@given(files=st.lists(file_diffs(), min_size=1, max_size=4))
def test_parsed_numbers_are_consecutive_and_match_the_header(
    files: list[FileDiff],
) -> None:
    """Within a hunk, old and new numbers run on by one and fill the header's counts."""
    diff = parse_unified_diff(to_unified_diff(Diff(tuple(files))))

    assert_numbers_follow_headers(diff)


DIFF_ROWS = st.one_of(
    st.sampled_from(
        [
            "diff --git a/x b/x",
            'diff --git "a/\\303\\251" "b/\\303\\251"',
            'diff --git "a/\\3',
            "diff --git ",
            "--- a/x",
            "+++ b/x",
            '--- "a/\\777"',
            "--- /dev/null",
            "+++ /dev/null",
            "@@ -1 +1 @@",
            "@@ -1,2 +1,2 @@",
            "@@ -0,0 +1 @@",
            "@@ -1,0 +0,0 @@",
            "@@@ -1 -1 +1 @@@",
            "@@ -a +b @@",
            "new file mode 100644",
            "deleted file mode 100644",
            "rename from y",
            'rename to "z\\"',
            "copy from q",
            "Binary files a/x and b/y differ",
            "Binary files  and  differ",
            "GIT binary patch",
            NO_NEWLINE,
            "",
            " ",
            "+",
            "-",
        ]
    ),
    st.builds(lambda mark, text: mark + text, st.sampled_from(" +-\\@"), line_texts),
    st.text(max_size=20).map(lambda text: text.replace("\n", "")),
)


def parse_or_refuse(parse: Callable[[Any], Diff], data: Any) -> Diff | None:
    """Return the parsed diff, or None when the parser refused with InvalidDiff."""
    try:
        return parse(data)
    except InvalidDiff:
        return None


@FAST
@given(rows=st.lists(DIFF_ROWS, max_size=25), crlf=st.booleans())
def test_diff_like_noise_parses_or_is_refused(rows: list[str], crlf: bool) -> None:
    """Shuffled pieces of diffs parse with sound numbers, or raise InvalidDiff."""
    text = ("\r\n" if crlf else "\n").join(rows)

    diff = parse_or_refuse(parse_unified_diff, text)

    if diff is not None:
        assert diff.files
        assert_numbers_follow_headers(diff)


@FAST
@given(text=st.text(max_size=200))
def test_random_text_parses_or_is_refused(text: str) -> None:
    """Any text either gives a diff with files or raises InvalidDiff, nothing else."""
    diff = parse_or_refuse(parse_unified_diff, text)

    assert diff is None or diff.files


@FAST
@given(data=st.binary(max_size=300))
def test_random_bytes_parse_or_are_refused(data: bytes) -> None:
    """Any bytes either give a diff with files or raise InvalidDiff, nothing else."""
    diff = parse_or_refuse(parse_unified_diff_bytes, data)

    assert diff is None or diff.files


def test_carriage_return_in_a_quoted_path_is_read_back() -> None:
    """git quotes a CR in a path as \\r; the parser must read it back as a CR."""
    text = 'diff --git "a/a\\rb" "b/a\\rb"\nnew file mode 100644\n'

    [file] = parse_unified_diff(text).files

    assert file.new_path == "a\rb"


def test_hunk_header_with_a_huge_number_is_refused() -> None:
    """A hunk start of thousands of digits raises InvalidDiff, not ValueError."""
    text = "--- a/x\n+++ b/x\n@@ -" + "1" * 5000 + " +1 @@\n-a\n+b\n"

    diff = parse_or_refuse(parse_unified_diff, text)

    assert diff is None


def test_lone_surrogate_in_a_quoted_path_is_not_a_crash() -> None:
    """Text holding a lone surrogate in a quoted path parses or raises InvalidDiff."""
    text = 'diff --git "a/\ud800" "b/x"\n'

    diff = parse_or_refuse(parse_unified_diff, text)

    assert diff is None or diff.files
