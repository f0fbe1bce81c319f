"""Read Bitbucket Data Center's JSON diff model into the diff model, and write diffs.

``GET .../commits/{id}/diff`` and ``GET .../pull-requests/{id}/diff`` answer
a JSON object (Atlassian's ``RestDiff`` family) instead of unified diff text:
files with ``source`` and ``destination`` paths, hunks with spans, segments
of ADDED, REMOVED or CONTEXT lines, each line with its numbers. Bitbucket
cuts large diffs and says so with ``truncated`` flags at every level; the
result names what was cut so that the review can say it saw only part.

:func:`to_unified_diff` writes any :class:`Diff` back as git-style text that
:func:`~ai_code_reviewer.review.diff.parse_unified_diff` reads to an equal one.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Final

from ai_code_reviewer.errors import InvalidDiff
from ai_code_reviewer.review.model import (
    Diff,
    DiffLine,
    FileDiff,
    FileStatus,
    Hunk,
    LineKind,
)

WHOLE_DIFF: Final = "the diff"
_KINDS: dict[str, LineKind] = {
    "ADDED": "added",
    "REMOVED": "removed",
    "CONTEXT": "context",
}
_SPANS = ("sourceLine", "sourceSpan", "destinationLine", "destinationSpan")
_JSON_TYPES: dict[type, str] = {
    dict: "an object",
    list: "an array",
    str: "a string",
    bool: "a boolean",
    int: "an integer",
    float: "a number",
    type(None): "null",
}
_MISSING: Final = object()


@dataclass(frozen=True)
class BitbucketDiff:
    """A diff read from Bitbucket, and what Bitbucket left out of it.

    ``truncated`` holds the path of each file whose hunks or lines Bitbucket
    cut, and :data:`WHOLE_DIFF` when it left out whole files.
    """

    diff: Diff
    truncated: tuple[str, ...] = ()


def parse_bitbucket_diff_json(data: str | bytes) -> BitbucketDiff:
    """Decode the JSON text of a Bitbucket diff answer and read it.

    Raises:
        InvalidDiff: the text is not JSON, or not a Bitbucket diff.
    """
    try:
        payload = json.loads(data)
    except (ValueError, RecursionError) as exc:
        raise InvalidDiff(
            "The Bitbucket diff answer is not valid JSON; expected the object "
            "that GET .../diff answers with Accept: application/json."
        ) from exc
    return parse_bitbucket_diff(payload)


def parse_bitbucket_diff(payload: object) -> BitbucketDiff:
    """Return the files, hunks and numbered lines of a decoded Bitbucket diff.

    Raises:
        InvalidDiff: a key is missing or has the wrong type (the message names
            the place, e.g. ``diffs[3].hunks[0].segments[1].type``), or the
            diff has no file.
    """
    root = _object(payload, "the payload")
    items = _array(_require(root, "", "diffs"), "diffs")
    files, truncated = [], []
    for index, item in enumerate(items):
        file, cut = _read_file(item, f"diffs[{index}]")
        files.append(file)
        if cut:
            truncated.append(file.path)
    if _flag(root, "", "truncated"):
        truncated.append(WHOLE_DIFF)
    if not files:
        raise InvalidDiff("The diff is empty: there is no change to review.")
    return BitbucketDiff(Diff(tuple(files)), tuple(truncated))


def _read_file(value: object, place: str) -> tuple[FileDiff, bool]:
    data = _object(value, place)
    old, new = _path(data, place, "source"), _path(data, place, "destination")
    if old is None and new is None:
        raise InvalidDiff(
            f"The Bitbucket diff is malformed at {place}: both source and "
            "destination are missing; a file needs at least one of them."
        )
    cut = _flag(data, place, "truncated")
    if _flag(data, place, "binary"):
        # Atlassian's Diff.isBinary(): "the hunks list will always be empty".
        return FileDiff(old, new, "binary"), cut
    hunks = []
    raw = data.get("hunks", [])
    for index, item in enumerate(_array(raw, _at(place, "hunks"))):
        hunk, hunk_cut = _read_hunk(item, f"{place}.hunks[{index}]")
        hunks.append(hunk)
        cut = cut or hunk_cut
    return FileDiff(old, new, _status(old, new), tuple(hunks)), cut


def _status(old: str | None, new: str | None) -> FileStatus:
    """Name the change; Bitbucket does not tell a copy from a rename or move."""
    if old is None:
        return "added"
    if new is None:
        return "deleted"
    return "modified" if old == new else "renamed"


def _path(data: dict[str, object], place: str, key: str) -> str | None:
    """Return the text of a ``RestPath`` (``toString``, else its components)."""
    value = data.get(key)
    if value is None:
        return None
    where = _at(place, key)
    path = _object(value, where)
    text = path.get("toString")
    if isinstance(text, str) and text:
        return text
    parts = path.get("components")
    if isinstance(parts, list) and parts and all(isinstance(p, str) for p in parts):
        return "/".join(parts)
    raise _wrong(_at(where, "toString"), "a non-empty string", text)


def _read_hunk(value: object, place: str) -> tuple[Hunk, bool]:
    data = _object(value, place)
    numbers = [_integer(_require(data, place, key), _at(place, key)) for key in _SPANS]
    raw = _array(_require(data, place, "segments"), _at(place, "segments"))
    lines: list[DiffLine] = []
    cut = _flag(data, place, "truncated")
    for index, item in enumerate(raw):
        segment, segment_cut = _read_segment(item, f"{place}.segments[{index}]")
        lines.extend(segment)
        cut = cut or segment_cut
    old_count = sum(1 for line in lines if line.kind != "added")
    new_count = sum(1 for line in lines if line.kind != "removed")
    if not cut:
        _check_span(place, "sourceSpan", numbers[1], old_count)
        _check_span(place, "destinationSpan", numbers[3], new_count)
    return Hunk(numbers[0], old_count, numbers[2], new_count, tuple(lines)), cut


def _check_span(place: str, key: str, span: int, count: int) -> None:
    """Refuse a hunk that is not cut but whose lines disagree with its span."""
    if span != count:
        raise InvalidDiff(
            f"The Bitbucket diff is malformed at {_at(place, key)}: it says "
            f"{span} lines but the hunk's segments hold {count}, and the hunk "
            "is not marked truncated."
        )


def _read_segment(value: object, place: str) -> tuple[list[DiffLine], bool]:
    data = _object(value, place)
    kind_name = _require(data, place, "type")
    kind = _KINDS.get(kind_name) if isinstance(kind_name, str) else None
    if kind is None:
        raise _wrong(_at(place, "type"), "ADDED, REMOVED or CONTEXT", kind_name)
    raw = _array(_require(data, place, "lines"), _at(place, "lines"))
    lines, cut = [], _flag(data, place, "truncated")
    for index, item in enumerate(raw):
        line, line_cut = _read_line(item, f"{place}.lines[{index}]", kind)
        lines.append(line)
        cut = cut or line_cut
    return lines, cut


def _read_line(value: object, place: str, kind: LineKind) -> tuple[DiffLine, bool]:
    """Number one line; Bitbucket numbers both sides, the model only the real ones."""
    data = _object(value, place)
    text = _text(_require(data, place, "line"), _at(place, "line"))
    old = new = None
    if kind != "added":
        old = _integer(_require(data, place, "source"), _at(place, "source"), 1)
    if kind != "removed":
        where = _at(place, "destination")
        new = _integer(_require(data, place, "destination"), where, 1)
    return DiffLine(kind, text, old, new), _flag(data, place, "truncated")


def _at(place: str, key: str) -> str:
    return f"{place}.{key}" if place else key


def _require(data: dict[str, object], place: str, key: str) -> object:
    value = data.get(key, _MISSING)
    if value is _MISSING:
        raise InvalidDiff(
            f"The Bitbucket diff is malformed at {_at(place, key)}: the key is missing."
        )
    return value


def _object(value: object, place: str) -> dict[str, object]:
    if not isinstance(value, dict):
        raise _wrong(place, "an object", value)
    return value


def _array(value: object, place: str) -> list[object]:
    if not isinstance(value, list):
        raise _wrong(place, "an array", value)
    return value


def _text(value: object, place: str) -> str:
    if not isinstance(value, str):
        raise _wrong(place, "a string", value)
    return value


def _integer(value: object, place: str, minimum: int = 0) -> int:
    if isinstance(value, bool) or not isinstance(value, int) or value < minimum:
        raise _wrong(place, f"an integer of at least {minimum}", value)
    return value


def _flag(data: dict[str, object], place: str, key: str) -> bool:
    """Return an optional boolean flag; a missing flag is false."""
    value = data.get(key, False)
    if not isinstance(value, bool):
        raise _wrong(_at(place, key), "a boolean", value)
    return value


def _wrong(place: str, expected: str, value: object) -> InvalidDiff:
    """Describe a bad value by its JSON type only: diff text may hold secrets."""
    got = _JSON_TYPES.get(type(value), "another value")
    if isinstance(value, int | float) and not isinstance(value, bool):
        got = f"{got} ({value})"
    return InvalidDiff(
        f"The Bitbucket diff is malformed at {place}: expected {expected}, got {got}."
    )


_C_ESCAPES = {
    "\a": "a",
    "\b": "b",
    "\t": "t",
    "\n": "n",
    "\v": "v",
    "\f": "f",
    "\r": "r",
    '"': '"',
    "\\": "\\",
}
_HUNK_MARKS: dict[LineKind, str] = {"added": "+", "removed": "-", "context": " "}


def to_unified_diff(diff: Diff) -> str:
    """Write ``diff`` as ``git diff`` would, with no ``index`` lines.

    Every diff that :func:`~ai_code_reviewer.review.diff.parse_unified_diff`
    returns is written so that it parses back to an equal one.

    Raises:
        InvalidDiff: a file has neither an old nor a new path.
    """
    return "".join(_render_file(file) for file in diff.files)


def _render_file(file: FileDiff) -> str:
    old, new = file.old_path, file.new_path
    if old is None and new is None:
        raise InvalidDiff("A file of the diff has neither an old nor a new path.")
    a, b = old if old is not None else new, new if new is not None else old
    lines = [f"diff --git {_quote(f'a/{a}')} {_quote(f'b/{b}')}"]
    lines.extend(_extended_header(file))
    lines.extend(_body(file))
    return "\n".join(lines) + "\n"


def _extended_header(file: FileDiff) -> list[str]:
    """Return the mode, rename and copy lines git writes after ``diff --git``."""
    old, new = file.old_path, file.new_path
    if old is None:
        return ["new file mode 100644"]
    if new is None:
        return ["deleted file mode 100644"]
    moved = file.status == "renamed" or (file.status == "binary" and old != new)
    if moved or file.status == "added":
        verb = "rename" if moved else "copy"
        return [
            "similarity index 90%",
            f"{verb} from {_quote(old)}",
            f"{verb} to {_quote(new)}",
        ]
    return []


def _body(file: FileDiff) -> Iterator[str]:
    old = _side(file.old_path, "a/")
    new = _side(file.new_path, "b/")
    if file.status == "binary":
        yield f"Binary files {old} and {new} differ"
        return
    if not file.hunks:
        return
    # git ends a name holding a space with a tab, so that the name's end is clear.
    yield f"--- {old}\t" if " " in old else f"--- {old}"
    yield f"+++ {new}\t" if " " in new else f"+++ {new}"
    for hunk in file.hunks:
        old_span = _span(hunk.old_start, hunk.old_count)
        yield f"@@ -{old_span} +{_span(hunk.new_start, hunk.new_count)} @@"
        yield from (_HUNK_MARKS[line.kind] + line.text for line in hunk.lines)


def _side(path: str | None, prefix: str) -> str:
    return "/dev/null" if path is None else _quote(prefix + path)


def _span(start: int, count: int) -> str:
    return str(start) if count == 1 else f"{start},{count}"


def _quote(path: str) -> str:
    """Quote ``path`` as git's quote_c_style does, with octal UTF-8 bytes."""
    if not any(_needs_quote(char) for char in path):
        return path
    return '"' + "".join(_quote_char(char) for char in path) + '"'


def _needs_quote(char: str) -> bool:
    return char in _C_ESCAPES or char < " " or char >= "\x7f"


def _quote_char(char: str) -> str:
    if char in _C_ESCAPES:
        return "\\" + _C_ESCAPES[char]
    if _needs_quote(char):
        return "".join(f"\\{byte:03o}" for byte in char.encode())
    return char
