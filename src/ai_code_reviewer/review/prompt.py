"""Write the system and user prompts of one chunk from the versioned prompt files.

The prompt files live in ``review/prompts/`` and ship with the package:
``system.md.j2`` (the reviewer's role, scales, rules and answer shape),
``user.md.j2`` (the chunk itself), ``languages/*.md`` (notes for the languages
present in a chunk) and ``VERSION``, which a review records so that a finding
can be traced back to the words that asked for it. Rendering is pure: the
team's guidelines come in as text, and nothing is read but package data.
"""

from __future__ import annotations

import functools
import posixpath
from collections.abc import Iterable
from importlib import resources

import jinja2

from ai_code_reviewer.review.budget import Chunk, Piece
from ai_code_reviewer.review.model import DiffLine, FileDiff, Hunk

_PACKAGE = "ai_code_reviewer.review"
_FOLDER = "prompts"
_MIN_NUMBER_WIDTH = 4
_MARKS = {"added": "+", "removed": "-", "context": " "}
_LANGUAGES: dict[str, str] = {
    **dict.fromkeys((".py", ".pyi"), "python"),
    **dict.fromkeys(
        (".js", ".mjs", ".cjs", ".jsx", ".ts", ".tsx", ".vue", ".svelte"),
        "javascript",
    ),
    **dict.fromkeys((".java",), "java"),
    **dict.fromkeys((".go",), "go"),
    **dict.fromkeys((".sql",), "sql"),
    **dict.fromkeys((".sh", ".bash", ".zsh", ".ksh"), "shell"),
}


def prompt_version() -> str:
    """Return the version of the prompt files, as written in ``VERSION``."""
    return _read("VERSION").strip()


def languages(paths: Iterable[str]) -> tuple[str, ...]:
    """Return the languages with notes among ``paths``, sorted, each once."""
    found = {_LANGUAGES.get(posixpath.splitext(path.lower())[1]) for path in paths}
    return tuple(sorted(name for name in found if name is not None))


def system_prompt(languages: Iterable[str] = (), guidelines: str | None = None) -> str:
    """Return the system prompt, with the notes of ``languages`` and the guidelines."""
    notes = [_read(f"languages/{name}.md").strip() for name in languages]
    text = (guidelines or "").strip() or None
    return _template("system.md.j2").render(languages=notes, guidelines=text)


def user_prompt(chunk: Chunk, part: str, parts: str, title: str | None = None) -> str:
    """Return the user prompt of ``chunk``: the title, its place, files and diff."""
    return _template("user.md.j2").render(
        title=(title or "").strip() or None,
        part=part,
        parts=parts,
        files=[_file_label(piece) for piece in chunk.pieces],
        diff=numbered_diff(chunk),
    )


def build_prompt(
    chunk: Chunk,
    part: str,
    parts: str,
    *,
    title: str | None = None,
    guidelines: str | None = None,
) -> tuple[str, str]:
    """Return the ``(system, user)`` prompts of one chunk of a review."""
    paths = [piece.file.path for piece in chunk.pieces]
    system = system_prompt(languages(paths), guidelines)
    return system, user_prompt(chunk, part, parts, title)


def numbered_diff(chunk: Chunk) -> str:
    """Return the chunk's diff with each line's new-file number in front of it."""
    numbers = [
        line.new_number or 0
        for piece in chunk.pieces
        for hunk in piece.file.hunks
        for line in hunk.lines
    ]
    width = max(_MIN_NUMBER_WIDTH, len(str(max(numbers, default=0))))
    return "\n".join(_numbered_piece(piece, width) for piece in chunk.pieces)


def _numbered_piece(piece: Piece, width: int) -> str:
    lines = [f"### {_file_label(piece)}"]
    for hunk in piece.file.hunks:
        lines.append(_hunk_header(hunk))
        lines += [_numbered_line(line, width) for line in hunk.lines]
    return "\n".join(lines) + "\n"


def _file_label(piece: Piece) -> str:
    """Return the piece's label and, unless it is plainly modified, its status."""
    return f"{piece.label}{_status_note(piece.file)}"


def _status_note(file: FileDiff) -> str:
    if file.status == "renamed" and file.old_path:
        return f" (renamed from {file.old_path})"
    if file.status in ("added", "deleted", "binary"):
        return f" ({file.status})"
    return ""


def _hunk_header(hunk: Hunk) -> str:
    return (
        f"@@ -{hunk.old_start},{hunk.old_count} +{hunk.new_start},{hunk.new_count} @@"
    )


def _numbered_line(line: DiffLine, width: int) -> str:
    number = "" if line.new_number is None else str(line.new_number)
    return f"{number:>{width}} {_MARKS[line.kind]}{line.text}"


@functools.cache
def _read(name: str) -> str:
    """Return the text of a prompt file shipped with the package."""
    return resources.files(_PACKAGE).joinpath(_FOLDER, name).read_text("utf-8")


@functools.cache
def _template(name: str) -> jinja2.Template:
    # The prompts are plain text for a model, not HTML: escaping would garble
    # the code in them. StrictUndefined turns a misspelt variable into an error.
    environment = jinja2.Environment(
        undefined=jinja2.StrictUndefined,
        autoescape=False,  # noqa: S701
        keep_trailing_newline=True,
        trim_blocks=True,
        lstrip_blocks=True,
    )
    return environment.from_string(_read(name))
