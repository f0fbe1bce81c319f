"""Reading Bitbucket Data Center's JSON diff model, and writing diffs as text."""

from __future__ import annotations

import copy
import json
from typing import Any

import pytest

from ai_code_reviewer.errors import InvalidDiff
from ai_code_reviewer.review.bitbucket_diff import (
    WHOLE_DIFF,
    BitbucketDiff,
    parse_bitbucket_diff,
    parse_bitbucket_diff_json,
    to_unified_diff,
)
from ai_code_reviewer.review.diff import parse_unified_diff
from ai_code_reviewer.review.model import Diff, DiffLine, FileDiff, Hunk

Json = dict[str, Any]


def path(text: str) -> Json:
    """Return a RestPath object the way Bitbucket writes one."""
    parts = text.split("/")
    name = parts[-1]
    return {
        "components": parts,
        "parent": "/".join(parts[:-1]),
        "name": name,
        "extension": name.rpartition(".")[2] if "." in name else None,
        "toString": text,
    }


def line(source: int, destination: int, text: str, **extra: Any) -> Json:
    """Return a RestDiffLine; Bitbucket numbers both sides of every line."""
    return {"source": source, "destination": destination, "line": text, **extra}


def segment(kind: str, *lines: Json, truncated: bool = False) -> Json:
    """Return a RestDiffSegment of one type."""
    return {"type": kind, "lines": list(lines), "truncated": truncated}


def hunk(spans: tuple[int, int, int, int], *segments: Json, **extra: Any) -> Json:
    """Return a RestDiffHunk from its four numbers and its segments."""
    names = ("sourceLine", "sourceSpan", "destinationLine", "destinationSpan")
    return {
        **dict(zip(names, spans, strict=True)),
        "segments": list(segments),
        "truncated": False,
        **extra,
    }


def file_diff(source: str | None, destination: str | None, *hunks: Json) -> Json:
    """Return a RestDiff: one file with its paths and hunks."""
    return {
        "source": None if source is None else path(source),
        "destination": None if destination is None else path(destination),
        "hunks": list(hunks),
        "truncated": False,
    }


def payload(*diffs: Json, truncated: bool = False) -> Json:
    """Return the whole answer of GET .../commits/{id}/diff."""
    return {
        "fromHash": "a" * 40,
        "toHash": "b" * 40,
        "contextLines": 3,
        "whitespace": "SHOW",
        "diffs": list(diffs),
        "truncated": truncated,
    }


MODIFIED = file_diff(
    "src/app.py",
    "src/app.py",
    hunk(
        (1, 3, 1, 4),
        segment("CONTEXT", line(1, 1, "import os")),
        segment("REMOVED", line(2, 2, "import sys")),
        segment("ADDED", line(3, 2, "import json"), line(3, 3, "import re")),
        segment("CONTEXT", line(3, 4, "")),
        context="import os",
    ),
    hunk(
        (10, 2, 11, 2),
        segment("REMOVED", line(10, 11, "    return 1")),
        segment("ADDED", line(11, 11, "    return 0")),
        segment("CONTEXT", line(11, 12, "    # end")),
    ),
)
ADDED = file_diff(
    None,
    "docs/new.md",
    hunk((0, 0, 1, 2), segment("ADDED", line(0, 1, "# Title"), line(0, 2, "Body"))),
)
DELETED = file_diff(
    "old.txt",
    None,
    hunk((1, 1, 0, 0), segment("REMOVED", line(1, 0, "gone"))),
)
RENAMED = file_diff(
    "lib/old name.py",
    "lib/new name.py",
    hunk(
        (1, 1, 1, 1),
        segment("REMOVED", line(1, 1, "x = 1")),
        segment("ADDED", line(2, 1, "x = 2")),
    ),
)
BINARY = {**file_diff("logo.png", "logo.png"), "binary": True}


def read(*diffs: Json, truncated: bool = False) -> BitbucketDiff:
    """Read a payload made of ``diffs`` after a trip through JSON text."""
    return parse_bitbucket_diff_json(json.dumps(payload(*diffs, truncated=truncated)))


def test_modified_file_numbers_every_line_from_the_json() -> None:
    """Each line takes Bitbucket's number on each side it lies on, None elsewhere."""
    result = read(MODIFIED)

    [file] = result.diff.files
    assert (file.old_path, file.new_path, file.status) == (
        "src/app.py",
        "src/app.py",
        "modified",
    )
    first, second = file.hunks
    assert (first.old_start, first.old_count, first.new_start, first.new_count) == (
        1,
        3,
        1,
        4,
    )
    assert first.lines == (
        DiffLine("context", "import os", 1, 1),
        DiffLine("removed", "import sys", 2, None),
        DiffLine("added", "import json", None, 2),
        DiffLine("added", "import re", None, 3),
        DiffLine("context", "", 3, 4),
    )
    assert second == Hunk(
        10,
        2,
        11,
        2,
        (
            DiffLine("removed", "    return 1", 10, None),
            DiffLine("added", "    return 0", None, 11),
            DiffLine("context", "    # end", 11, 12),
        ),
    )
    assert result.truncated == ()


def test_added_file_has_null_source() -> None:
    """A file whose source is null is added, with only new line numbers."""
    [file] = read(ADDED).diff.files

    assert (file.old_path, file.new_path, file.status) == (None, "docs/new.md", "added")
    assert file.hunks[0].lines == (
        DiffLine("added", "# Title", None, 1),
        DiffLine("added", "Body", None, 2),
    )


def test_added_file_without_source_key_is_added() -> None:
    """A file whose answer leaves out the source key is read as added too."""
    item = {key: value for key, value in ADDED.items() if key != "source"}

    [file] = read(item).diff.files

    assert (file.old_path, file.status) == (None, "added")


def test_deleted_file_has_null_destination() -> None:
    """A file whose destination is null is deleted and keeps its old path."""
    [file] = read(DELETED).diff.files

    assert (file.old_path, file.new_path, file.status) == ("old.txt", None, "deleted")
    assert file.path == "old.txt"
    assert file.hunks == (Hunk(1, 1, 0, 0, (DiffLine("removed", "gone", 1, None),)),)


def test_rename_keeps_both_paths_and_its_edit() -> None:
    """Different source and destination paths make a renamed file with both."""
    [file] = read(RENAMED).diff.files

    assert (file.old_path, file.new_path, file.status) == (
        "lib/old name.py",
        "lib/new name.py",
        "renamed",
    )
    assert file.hunks[0].lines == (
        DiffLine("removed", "x = 1", 1, None),
        DiffLine("added", "x = 2", None, 1),
    )


def test_binary_file_has_no_hunks() -> None:
    """A diff flagged binary gives a binary file without hunks."""
    assert read(BINARY).diff.files == (FileDiff("logo.png", "logo.png", "binary"),)


def test_path_without_to_string_is_joined_from_components() -> None:
    """A path object with components but no toString is still understood."""
    item = copy.deepcopy(MODIFIED)
    del item["destination"]["toString"]

    [file] = read(item).diff.files

    assert file.new_path == "src/app.py"


def test_several_files_keep_their_order() -> None:
    """Every file of the answer is read, in the order Bitbucket gives them."""
    diff = read(MODIFIED, ADDED, DELETED, RENAMED, BINARY).diff

    assert [(f.path, f.status) for f in diff.files] == [
        ("src/app.py", "modified"),
        ("docs/new.md", "added"),
        ("old.txt", "deleted"),
        ("lib/new name.py", "renamed"),
        ("logo.png", "binary"),
    ]
    assert diff.counts() == (6, 4)


def test_truncated_hunk_names_its_file_and_counts_the_lines_it_has() -> None:
    """A hunk Bitbucket cut reports its file, and its counts fit the lines kept."""
    item = file_diff(
        "big.py",
        "big.py",
        hunk(
            (1, 500, 1, 500),
            segment("CONTEXT", line(1, 1, "a"), line(2, 2, "b"), truncated=True),
            truncated=True,
        ),
    )
    item["truncated"] = True

    result = read(item, ADDED)

    assert result.truncated == ("big.py",)
    [cut] = result.diff.files[0].hunks
    assert (cut.old_start, cut.old_count, cut.new_start, cut.new_count) == (1, 2, 1, 2)


def test_truncated_line_names_its_file() -> None:
    """A line whose text Bitbucket shortened marks its file as truncated."""
    item = file_diff(
        "min.js",
        "min.js",
        hunk((1, 0, 1, 1), segment("ADDED", line(1, 1, "var a=", truncated=True))),
    )

    assert read(item).truncated == ("min.js",)


def test_truncated_diff_is_named_as_a_whole() -> None:
    """When Bitbucket leaves out whole files, the result says "the diff"."""
    result = read(MODIFIED, truncated=True)

    assert result.truncated == (WHOLE_DIFF,)
    assert len(result.diff.files) == 1


GIT_TEXT = "\n".join(
    [
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
        "diff --git a/docs/new.md b/docs/new.md",
        "new file mode 100644",
        "index 0000000..e69de29",
        "--- /dev/null",
        "+++ b/docs/new.md",
        "@@ -0,0 +1,2 @@",
        "+# Title",
        "+Body",
        "diff --git a/old.txt b/old.txt",
        "deleted file mode 100644",
        "index e69de29..0000000",
        "--- a/old.txt",
        "+++ /dev/null",
        "@@ -1 +0,0 @@",
        "-gone",
        "diff --git a/lib/old name.py b/lib/new name.py",
        "similarity index 50%",
        "rename from lib/old name.py",
        "rename to lib/new name.py",
        "index 1111111..2222222 100644",
        "--- a/lib/old name.py\t",
        "+++ b/lib/new name.py\t",
        "@@ -1 +1 @@",
        "-x = 1",
        "+x = 2",
        "diff --git a/logo.png b/logo.png",
        "index 1111111..2222222 100644",
        "Binary files a/logo.png and b/logo.png differ",
        "",
    ]
)


def test_json_and_git_text_of_one_change_give_equal_diffs() -> None:
    """The same change read from Bitbucket's JSON and from git's text is equal."""
    from_json = read(MODIFIED, ADDED, DELETED, RENAMED, BINARY).diff

    from_text = parse_unified_diff(GIT_TEXT)

    assert from_json == from_text


def test_json_diff_written_as_text_parses_back_equal() -> None:
    """A diff read from JSON, written with to_unified_diff, parses back equal."""
    diff = read(MODIFIED, ADDED, DELETED, RENAMED, BINARY).diff

    assert parse_unified_diff(to_unified_diff(diff)) == diff


def test_unified_text_quotes_paths_as_git_does() -> None:
    """Non-ASCII and quote characters are C-quoted, spaces end with a tab."""
    diff = Diff(
        (
            FileDiff(
                'caf\u00e9 "menu".txt',
                'caf\u00e9 "menu".txt',
                "modified",
                (Hunk(1, 1, 1, 1, (DiffLine("context", "x", 1, 1),)),),
            ),
        )
    )

    text = to_unified_diff(diff)

    assert text.splitlines()[:3] == [
        r'diff --git "a/caf\303\251 \"menu\".txt" "b/caf\303\251 \"menu\".txt"',
        '--- "a/caf\\303\\251 \\"menu\\".txt"\t',
        '+++ "b/caf\\303\\251 \\"menu\\".txt"\t',
    ]


def test_file_without_any_path_cannot_be_written() -> None:
    """A file with neither path has no text form, and says so."""
    with pytest.raises(InvalidDiff, match="neither an old nor a new path"):
        to_unified_diff(Diff((FileDiff(None, None, "modified"),)))


def broken(change: str) -> Any:
    """Return a valid payload with one part broken as ``change`` names."""
    data: Any = payload(copy.deepcopy(MODIFIED))
    first = data["diffs"][0]
    segment_one = first["hunks"][0]["segments"][1]
    changes = {
        "diffs missing": lambda: data.pop("diffs"),
        "diffs not array": lambda: data.update(diffs={"0": MODIFIED}),
        "file not object": lambda: data["diffs"].append("src/app.py"),
        "no path": lambda: first.update(source=None, destination=None),
        "path not object": lambda: first.update(source="src/app.py"),
        "path text": lambda: first["destination"].update(toString=7, components=[]),
        "hunks not array": lambda: first.update(hunks=None),
        "hunk not object": lambda: first["hunks"].append(3),
        "line start text": lambda: first["hunks"][0].update(sourceLine="1"),
        "span missing": lambda: first["hunks"][1].pop("destinationSpan"),
        "start boolean": lambda: first["hunks"][0].update(destinationLine=True),
        "segments missing": lambda: first["hunks"][0].pop("segments"),
        "segment type": lambda: segment_one.update(type="MOVED"),
        "segment type list": lambda: segment_one.update(type=["ADDED"]),
        "lines not array": lambda: segment_one.update(lines="import sys"),
        "line text": lambda: segment_one["lines"][0].update(line=None),
        "line source": lambda: segment_one["lines"][0].pop("source"),
        "line zero": lambda: first["hunks"][0]["segments"][0]["lines"][0].update(
            destination=0
        ),
        "line float": lambda: first["hunks"][0]["segments"][2]["lines"][1].update(
            destination=3.0
        ),
        "flag": lambda: first.update(binary="yes"),
        "whole flag": lambda: data.update(truncated=1),
        "span wrong": lambda: first["hunks"][0].update(sourceSpan=9),
    }
    changes[change]()
    return data


@pytest.mark.parametrize(
    ("change", "place"),
    [
        ("diffs missing", "at diffs: the key is missing"),
        ("diffs not array", "at diffs: expected an array, got an object"),
        ("file not object", r"at diffs\[1\]: expected an object, got a string"),
        ("no path", r"at diffs\[0\]: both source and destination are missing"),
        ("path not object", r"at diffs\[0\]\.source: expected an object"),
        ("path text", r"at diffs\[0\]\.destination\.toString: expected a non-empty"),
        ("hunks not array", r"at diffs\[0\]\.hunks: expected an array, got null"),
        ("hunk not object", r"at diffs\[0\]\.hunks\[2\]: expected an object"),
        ("line start text", r"at diffs\[0\]\.hunks\[0\]\.sourceLine: expected an int"),
        ("span missing", r"at diffs\[0\]\.hunks\[1\]\.destinationSpan: the key is"),
        ("start boolean", r"hunks\[0\]\.destinationLine: .* got a boolean"),
        ("segments missing", r"at diffs\[0\]\.hunks\[0\]\.segments: the key is"),
        ("segment type", r"diffs\[0\]\.hunks\[0\]\.segments\[1\]\.type: expected ADD"),
        ("segment type list", r"segments\[1\]\.type: .* got an array"),
        ("lines not array", r"segments\[1\]\.lines: expected an array, got a str"),
        ("line text", r"segments\[1\]\.lines\[0\]\.line: expected a string, got null"),
        ("line source", r"segments\[1\]\.lines\[0\]\.source: the key is missing"),
        ("line zero", r"segments\[0\]\.lines\[0\]\.destination: .* at least 1, got"),
        ("line float", r"segments\[2\]\.lines\[1\]\.destination: .* got a number"),
        ("flag", r"at diffs\[0\]\.binary: expected a boolean, got a string"),
        ("whole flag", r"at truncated: expected a boolean, got an integer \(1\)"),
        ("span wrong", r"hunks\[0\]\.sourceSpan: it says 9 lines .* hold 3"),
    ],
)
def test_malformed_payload_names_the_bad_place(change: str, place: str) -> None:
    """Each kind of malformed payload raises InvalidDiff naming where it is."""
    with pytest.raises(InvalidDiff, match=place):
        parse_bitbucket_diff(broken(change))


@pytest.mark.parametrize("value", [[], "diff", None, 3])
def test_payload_that_is_not_an_object_is_refused(value: object) -> None:
    """A JSON value other than an object is not a Bitbucket diff."""
    with pytest.raises(InvalidDiff, match="at the payload: expected an object"):
        parse_bitbucket_diff(value)


@pytest.mark.parametrize("text", ["", "{", b"\xff\xfe{", "[" * 100_000])
def test_text_that_is_not_json_is_refused(text: str | bytes) -> None:
    """Text that does not decode as JSON raises InvalidDiff, however it breaks."""
    with pytest.raises(InvalidDiff, match="not valid JSON"):
        parse_bitbucket_diff_json(text)


def test_diff_without_files_is_empty() -> None:
    """An answer with no file is refused as empty, like an empty unified diff."""
    with pytest.raises(InvalidDiff, match="empty"):
        parse_bitbucket_diff(payload())


def test_error_message_does_not_echo_the_line_text() -> None:
    """A bad value is described by its type, never quoted: it may be a secret."""
    data = broken("line text")
    data["diffs"][0]["hunks"][0]["segments"][1]["lines"][0]["line"] = {
        "token": "ghp_secretsecret"
    }

    with pytest.raises(InvalidDiff) as caught:
        parse_bitbucket_diff(data)

    assert "secret" not in str(caught.value)
