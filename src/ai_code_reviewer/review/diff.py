"""Parse a unified diff (``git diff`` output or plain ``diff -u``) into the model.

The format is git-diff(1)'s "Generating patch text with -p". Combined diffs of
merges (``@@@``) are not read: their hunk headers are reported as malformed.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field

from ai_code_reviewer.errors import InvalidDiff
from ai_code_reviewer.review.model import (
    Diff,
    DiffLine,
    FileDiff,
    FileStatus,
    Hunk,
    LineKind,
)

# ASCII digits only, and few enough that int() takes them: a longer number is
# no real line and makes the header malformed.
_HUNK_HEADER = re.compile(
    r"@@ -([0-9]{1,9})(?:,([0-9]{1,9}))? \+([0-9]{1,9})(?:,([0-9]{1,9}))? @@"
)
_BINARY_FILES = re.compile(r"Binary files (.+) and (.+) differ")
_QUOTED_PAIR = re.compile(r'("(?:[^"\\]|\\.)*"|\S+) ("(?:[^"\\]|\\.)*"|\S+)')
_ESCAPE = re.compile(r"\\([0-3][0-7]{2}|.)")
_ESCAPES = {
    **{"a": "\a", "b": "\b", "t": "\t", "n": "\n", "r": "\r"},
    **{"v": "\v", "f": "\f"},
}
_PATH_HEADER = re.compile(r"(rename|copy) (from|to) (.+)")
_DEV_NULL = "/dev/null"
_KINDS: dict[str, LineKind] = {"+": "added", "-": "removed", " ": "context"}


def parse_unified_diff_bytes(data: bytes) -> Diff:
    """Decode ``data`` as UTF-8, replacing undecodable bytes, and parse it."""
    return parse_unified_diff(data.decode("utf-8", errors="replace"))


def parse_unified_diff(text: str) -> Diff:
    """Return the files, hunks and numbered lines of a unified diff.

    Raises:
        InvalidDiff: the text is empty, has neither a file header nor a hunk,
            or a hunk's header or line counts are wrong.
    """
    lines = _split_lines(text)
    if not any(line.strip() for line in lines):
        raise InvalidDiff("The diff is empty: there is no change to review.")
    files = _Parser(lines).parse()
    if not files:
        raise InvalidDiff(
            "The text is not a unified diff: it has no file header "
            "(diff --git or ---/+++) and no hunk (@@)."
        )
    return Diff(files=tuple(files))


def _split_lines(text: str) -> list[str]:
    """Split on LF only (CR, form feed and others can be file content)."""
    lines = text.removeprefix("\ufeff").removesuffix("\n").split("\n")
    return [line.removesuffix("\r") for line in lines]


@dataclass
class _File:
    """A file's diff while it is being read."""

    old_path: str | None
    new_path: str | None
    git: bool = False
    headed: bool = False
    marks: set[str] = field(default_factory=set)
    hunks: list[Hunk] = field(default_factory=list)

    @property
    def name(self) -> str:
        """Return the path to name in an error message."""
        return self.new_path or self.old_path or "an unnamed file"

    def build(self) -> FileDiff:
        """Return the finished, immutable file diff."""
        status = self._status()
        return FileDiff(self.old_path, self.new_path, status, tuple(self.hunks))

    def _status(self) -> FileStatus:
        if "binary" in self.marks:
            return "binary"
        if self.old_path is None or "copied" in self.marks:
            return "added"
        if self.new_path is None:
            return "deleted"
        return "renamed" if "renamed" in self.marks else "modified"


@dataclass
class _Cursor:
    """The next old and new line numbers of a hunk, and how many are still due."""

    old: int
    new: int
    old_left: int
    new_left: int

    def take(self, text: str) -> DiffLine | None:
        """Number the hunk line ``text``; return None if the counts leave no room."""
        # An empty line is a context line whose leading space an editor trimmed.
        kind = _KINDS.get(text[:1] or " ")
        on_old, on_new = kind in ("context", "removed"), kind in ("context", "added")
        fits = (self.old_left or not on_old) and (self.new_left or not on_new)
        if kind is None or not fits:
            return None
        old, new = (self.old if on_old else None), (self.new if on_new else None)
        self.old, self.old_left = self.old + on_old, self.old_left - on_old
        self.new, self.new_left = self.new + on_new, self.new_left - on_new
        return DiffLine(kind, text[1:], old, new)


class _Parser:
    """Read the lines of a diff once, top to bottom."""

    def __init__(self, lines: list[str]) -> None:
        self.lines = lines
        self.index = 0
        self.files: list[_File] = []

    def parse(self) -> list[FileDiff]:
        """Return every file of the diff."""
        while self.index < len(self.lines):
            self._step(self.lines[self.index])
        return [file.build() for file in self.files]

    def _step(self, line: str) -> None:
        if line.startswith("diff --git "):
            self._start_git_file(line[len("diff --git ") :])
        elif line.startswith("--- ") and self._peek(1).startswith("+++ "):
            self._read_file_header(line[4:], self._peek(1)[4:])
        elif line.startswith("@@"):
            self._read_hunk(line)
        elif line.startswith("Binary files "):
            self._read_binary_line(line)
        elif line == "GIT binary patch":
            self._skip_binary_patch()
        else:
            self._read_extended_header(line)

    def _peek(self, ahead: int) -> str:
        position = self.index + ahead
        return self.lines[position] if position < len(self.lines) else ""

    def _open_git_file(self) -> _File | None:
        """Return the current file if it is a git one still in its header."""
        file = self.files[-1] if self.files else None
        return file if file is not None and file.git and not file.hunks else None

    def _start_git_file(self, rest: str) -> None:
        old, new = _strip_prefixes(*_header_paths(rest))
        self.files.append(_File(old, new, git=True))
        self.index += 1

    def _read_file_header(self, old_side: str, new_side: str) -> None:
        file = self._open_git_file()
        if file is None or file.headed:
            file = _File(None, None)
            self.files.append(file)
        old, new = _side_path(old_side), _side_path(new_side)
        file.old_path, file.new_path = _strip_prefixes(old, new)
        file.headed = True
        self.index += 2

    def _read_extended_header(self, line: str) -> None:
        self.index += 1
        file = self._open_git_file()
        if file is None:
            return
        if line.startswith("new file mode "):
            file.old_path = None
        elif line.startswith("deleted file mode "):
            file.new_path = None
        match = _PATH_HEADER.fullmatch(line)
        if match is not None:
            side = "old_path" if match[2] == "from" else "new_path"
            setattr(file, side, _unquote(match[3]))
            file.marks.add("renamed" if match[1] == "rename" else "copied")

    def _read_binary_line(self, line: str) -> None:
        self.index += 1
        file = self._open_git_file()
        match = _BINARY_FILES.fullmatch(line)
        if file is None and match is not None:
            sides = _side_path(match[1]), _side_path(match[2])
            file = _File(*_strip_prefixes(*sides))
            self.files.append(file)
        if file is not None:
            file.marks.add("binary")

    def _skip_binary_patch(self) -> None:
        file = self._open_git_file()
        if file is not None:
            file.marks.add("binary")
        self.index += 1
        while self.index < len(self.lines) and not self._peek(0).startswith("diff "):
            self.index += 1

    def _read_hunk(self, header: str) -> None:
        number = self.index + 1
        if not self.files:
            raise InvalidDiff(
                f"Line {number} of the diff starts a hunk, but no file header "
                "(diff --git or ---/+++) comes before it."
            )
        file = self.files[-1]
        match = _HUNK_HEADER.match(header)
        if match is None:
            raise InvalidDiff(
                f"Line {number} of the diff ({file.name}) is a malformed hunk "
                "header; expected '@@ -start,count +start,count @@'."
            )
        old_start, old_count, new_start, new_count = (
            int(group) if group is not None else 1 for group in match.groups()
        )
        self.index += 1
        cursor = _Cursor(old_start, new_start, old_count, new_count)
        lines = self._read_hunk_lines(file, number, cursor)
        file.hunks.append(Hunk(old_start, old_count, new_start, new_count, lines))

    def _read_hunk_lines(
        self, file: _File, number: int, cursor: _Cursor
    ) -> tuple[DiffLine, ...]:
        lines: list[DiffLine] = []
        while cursor.old_left or cursor.new_left:
            if self.index >= len(self.lines):
                raise _count_error(file, number, "the diff ends before them")
            text = self.lines[self.index]
            self.index += 1
            if text.startswith("\\"):
                continue
            line = cursor.take(text)
            if line is None:
                raise _count_error(file, number, f"line {self.index} does not fit")
            lines.append(line)
        while self._peek(0).startswith("\\"):
            self.index += 1
        return tuple(lines)


def _count_error(file: _File, number: int, what: str) -> InvalidDiff:
    return InvalidDiff(
        f"The hunk at line {number} of the diff ({file.name}) does not match "
        f"the line counts in its header: {what}."
    )


def _header_paths(rest: str) -> tuple[str | None, str | None]:
    """Split the two paths of a ``diff --git`` line (spaces make it ambiguous)."""
    if rest.startswith('"') or rest.endswith('"'):
        match = _QUOTED_PAIR.fullmatch(rest)
        if match is not None:
            return _unquote(match[1]), _unquote(match[2])
    half = len(rest) // 2
    if len(rest) % 2 and rest[half] == " " and rest[2:half] == rest[half + 3 :]:
        return rest[:half], rest[half + 1 :]
    split = rest.find(" b/") if " b/" in rest else rest.find(" ")
    if split < 0:
        return rest, rest
    return rest[:split], rest[split + 1 :]


def _side_path(side: str) -> str | None:
    """Return the path of a ``---``/``+++`` line, without its timestamp."""
    path = side.split("\t", 1)[0]
    return None if path == _DEV_NULL else _unquote(path)


def _strip_prefixes(old: str | None, new: str | None) -> tuple[str | None, str | None]:
    """Drop ``a/`` and ``b/`` when both sides carry them (or are /dev/null)."""
    if (old is None or old.startswith("a/")) and (new is None or new.startswith("b/")):
        return (None if old is None else old[2:]), (None if new is None else new[2:])
    return old, new


def _unquote(path: str) -> str:
    """Undo git's C-style quoting of a path (octal escapes are UTF-8 bytes)."""
    if len(path) < 2 or path[0] != '"' or path[-1] != '"':
        return path
    # Work on the UTF-8 bytes seen as Latin-1 so that each escape is one byte.
    # A lone surrogate (only possible in str input) passes through as bytes.
    body = path[1:-1].encode(errors="surrogatepass").decode("latin-1")
    raw = _ESCAPE.sub(lambda match: _unescape(match[1]), body)
    return raw.encode("latin-1").decode("utf-8", errors="replace")


def _unescape(code: str) -> str:
    return chr(int(code, 8)) if len(code) == 3 else _ESCAPES.get(code, code)
