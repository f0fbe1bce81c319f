"""Fit a diff into a model's context: estimate tokens, order files, pack chunks.

A plan never drops a file. Files go into chunks whole, most important first;
a file over the budget is split at hunk boundaries into parts labelled
``path (part i of n)``; a hunk over the budget is cut at line boundaries, and a
single line over the budget is shortened. Every cut is written in ``Plan.cut``.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass, replace

from ai_code_reviewer.review.model import DiffLine, FileDiff, Hunk

# 3.6 bytes a token, as the fraction 18/5 so that the sums stay exact integers.
_BYTES, _TOKENS = 18, 5
_PREFIXES = {"added": "+", "removed": "-", "context": " "}
# Lower ranks are reviewed first; a file that looks like a test goes with docs.
_RANKS: dict[str, int] = {
    **dict.fromkeys(
        (".py", ".pyi", ".js", ".mjs", ".cjs", ".jsx", ".ts", ".tsx", ".go", ".rs"),
        0,
    ),
    **dict.fromkeys(
        (".java", ".kt", ".scala", ".c", ".h", ".cc", ".cpp", ".hpp", ".cs"), 0
    ),
    **dict.fromkeys((".rb", ".php", ".swift", ".sql", ".sh", ".vue", ".svelte"), 0),
    **dict.fromkeys((".json", ".yaml", ".yml", ".toml", ".ini", ".cfg", ".xml"), 1),
    **dict.fromkeys((".conf", ".env", ".properties", ".gradle", ".tf"), 1),
    **dict.fromkeys(("dockerfile", "makefile"), 1),
    **dict.fromkeys((".md", ".rst", ".txt", ".adoc"), 3),
}
_MODE_LINES = {
    "added": ["new file mode 100644"],
    "deleted": ["deleted file mode 100644"],
}
_UNKNOWN_RANK = 2
_TEST_RANK = 3
_TEST_FOLDERS = frozenset({"test", "tests", "__tests__", "spec", "testdata"})
_TEST_MARKS = ("_test.", ".test.", ".spec.")


def estimate_tokens(text: str) -> int:
    """Return a conservative estimate of the tokens ``text`` takes in a prompt.

    The count is the UTF-8 bytes divided by 3.6, rounded up, plus one per line.
    It is meant to stay above what cl100k and o200k count for code, but it is a
    bound from bytes, not a calibration: no tokenizer was run against it (none is
    installed here, and not downloading one is the point). The reasoning: those
    tokenizers average about four characters a token on English text, code
    takes a little more tokens for its symbols, and a line break or an indent
    often takes a token of its own. It over-counts on purpose: an estimate under
    the real count is what overflows a context, while one over it only wastes
    some room. It is never below ``len(text) / 4``. Text that tokenizes badly
    (long base64 or hex runs, scripts outside Latin) can still go over it, so a
    caller keeps handling a model's "context too long" answer.
    """
    if not text:
        return 0
    size = len(text.encode("utf-8"))
    return -(-size * _TOKENS // _BYTES) + text.count("\n") + 1


def input_budget(context_tokens: int, prompt_tokens: int, answer_tokens: int) -> int:
    """Return the tokens left for the diff once the prompt and answer are set aside.

    Raises:
        ValueError: a count is negative, or nothing is left for the diff.
    """
    if min(context_tokens, prompt_tokens, answer_tokens) < 0:
        raise ValueError("Token counts cannot be negative.")
    left = context_tokens - prompt_tokens - answer_tokens
    if left <= 0:
        raise ValueError(
            f"A context of {context_tokens} tokens leaves no room for the diff "
            f"after {prompt_tokens} prompt and {answer_tokens} answer tokens."
        )
    return left


@dataclass(frozen=True)
class Piece:
    """A file, or one part of it, holding only the hunks of that part."""

    file: FileDiff
    part: int = 1
    parts: int = 1

    @property
    def label(self) -> str:
        """Return the path, with ``(part i of n)`` when the file was split."""
        if self.parts == 1:
            return self.file.path
        return f"{self.file.path} (part {self.part} of {self.parts})"


@dataclass(frozen=True)
class Chunk:
    """The pieces sent to the model together, and their estimated tokens."""

    pieces: tuple[Piece, ...]
    tokens: int


@dataclass(frozen=True)
class Plan:
    """The chunks of a review, and what had to be cut to fit them."""

    chunks: tuple[Chunk, ...]
    cut: tuple[str, ...]


def render_chunk(chunk: Chunk) -> str:
    """Return the chunk's pieces as unified diff text, ready for a prompt."""
    return "".join(render_piece(piece) for piece in chunk.pieces)


def render_piece(piece: Piece) -> str:
    """Return one piece as a git diff, a ``# label`` line first when it is a part."""
    label = f"# {piece.label}\n" if piece.parts > 1 else ""
    hunks = "".join(_render_hunk(hunk) for hunk in piece.file.hunks)
    return label + _render_header(piece.file) + hunks


def _render_header(file: FileDiff) -> str:
    """Return the ``diff --git`` header that parse_unified_diff reads back."""
    old, new = file.old_path or file.path, file.new_path or file.path
    lines = [f"diff --git a/{old} b/{new}"]
    lines += _MODE_LINES.get(file.status, [])
    if file.status == "renamed":
        lines += [f"rename from {old}", f"rename to {new}"]
    if file.status == "binary":
        lines.append(f"Binary files a/{old} and b/{new} differ")
    elif file.hunks:
        lines.append(f"--- {_side('a', file.old_path)}")
        lines.append(f"+++ {_side('b', file.new_path)}")
    return "\n".join(lines) + "\n"


def _side(prefix: str, path: str | None) -> str:
    return "/dev/null" if path is None else f"{prefix}/{path}"


def _render_hunk(hunk: Hunk) -> str:
    header = (
        f"@@ -{hunk.old_start},{hunk.old_count} +{hunk.new_start},{hunk.new_count} @@\n"
    )
    return header + "".join(_render_line(line) for line in hunk.lines)


def _render_line(line: DiffLine) -> str:
    return f"{_PREFIXES[line.kind]}{line.text}\n"


def importance(file: FileDiff) -> tuple[int, int, str]:
    """Return the sort key that puts source first, then config, docs and tests.

    Within a class, files with more changed lines come first; the path breaks ties.
    """
    changed = sum(
        1 for hunk in file.hunks for line in hunk.lines if line.kind != "context"
    )
    return _rank(file.path), -changed, file.path


def _rank(path: str) -> int:
    *folders, name = path.lower().split("/")
    in_tests = any(folder in _TEST_FOLDERS for folder in folders)
    if in_tests or name.startswith("test_") or any(m in name for m in _TEST_MARKS):
        return _TEST_RANK
    suffix = name[name.rfind(".") :] if "." in name else name
    return _RANKS.get(suffix, _UNKNOWN_RANK)


def plan_chunks(files: Sequence[FileDiff], budget: int) -> Plan:
    """Pack ``files`` into chunks of at most ``budget`` tokens, most important first.

    Pieces go first-fit, in order of importance, into the first chunk with room.

    Raises:
        ValueError: the budget cannot hold even a file header and one short line.
    """
    cut: list[str] = []
    pieces: list[tuple[Piece, int]] = []
    for file in sorted(files, key=importance):
        pieces += _split_file(file, budget, cut)
    bins: list[tuple[list[Piece], int]] = []
    for piece, cost in pieces:
        _place(bins, piece, cost, budget)
    chunks = tuple(_finish(members) for members, _ in bins)
    return Plan(chunks, tuple(cut))


def _place(
    bins: list[tuple[list[Piece], int]], piece: Piece, cost: int, budget: int
) -> None:
    """Put ``piece`` in the first chunk with room, or in a new chunk."""
    for index, (members, used) in enumerate(bins):
        if used + cost <= budget:
            members.append(piece)
            bins[index] = (members, used + cost)
            return
    bins.append(([piece], cost))


def _finish(pieces: list[Piece]) -> Chunk:
    chunk = Chunk(tuple(pieces), 0)
    return replace(chunk, tokens=estimate_tokens(render_chunk(chunk)))


def _split_file(file: FileDiff, budget: int, cut: list[str]) -> list[tuple[Piece, int]]:
    """Return the file whole if it fits, else its parts, each with a cost bound.

    The cost of text made of pieces is at most the sum of the pieces' estimates
    (rounding up and the one extra line are counted once per piece), so a sum
    of costs under the budget keeps the rendered chunk under it too.
    """
    whole = estimate_tokens(render_piece(Piece(file)))
    if whole <= budget:
        return [(Piece(file), whole)]
    most_parts = len(file.hunks) + sum(len(hunk.lines) for hunk in file.hunks)
    header = _header_cost(file, most_parts)
    if header >= budget:
        raise ValueError(
            f"A budget of {budget} tokens cannot hold the header of {file.path}."
        )
    room = budget - header
    units = [unit for hunk in file.hunks for unit in _fit_hunk(file, hunk, room, cut)]
    groups = _group(units, room)
    return [
        (Piece(replace(file, hunks=tuple(hunks)), index, len(groups)), header + cost)
        for index, (hunks, cost) in enumerate(groups, start=1)
    ]


def _header_cost(file: FileDiff, most_parts: int) -> int:
    """Return a bound on the label and header cost of any part of ``file``."""
    widest = Piece(replace(file, hunks=()), most_parts, most_parts)
    headed = replace(file, hunks=(Hunk(0, 0, 0, 0, ()),))
    return estimate_tokens(render_piece(replace(widest, file=headed)))


def _group(units: list[tuple[Hunk, int]], room: int) -> list[tuple[list[Hunk], int]]:
    """Gather consecutive hunks into groups whose costs add up to at most ``room``."""
    groups: list[tuple[list[Hunk], int]] = []
    for hunk, cost in units:
        if groups and groups[-1][1] + cost <= room:
            groups[-1][0].append(hunk)
            groups[-1] = (groups[-1][0], groups[-1][1] + cost)
        else:
            groups.append(([hunk], cost))
    return groups or [([], 0)]


def _fit_hunk(
    file: FileDiff, hunk: Hunk, room: int, cut: list[str]
) -> list[tuple[Hunk, int]]:
    """Return the hunk with its cost, or its line-bounded slices if it is too big."""
    whole = estimate_tokens(_render_hunk(hunk))
    if whole <= room:
        return [(hunk, whole)]
    frame = estimate_tokens(_render_hunk(_widest(hunk)))
    lines = [_shorten(file, line, room - frame, cut) for line in hunk.lines]
    slices = _slice(lines, room - frame)
    cut.append(
        f"{file.path}: the hunk at new line {hunk.new_start} ({len(hunk.lines)} "
        f"lines) was cut at line boundaries into {len(slices)} pieces."
    )
    return [
        (_subhunk(hunk, lines, start, end), frame + cost) for start, end, cost in slices
    ]


def _widest(hunk: Hunk) -> Hunk:
    """Return an empty hunk whose header is at least as long as any slice's."""
    old, new = hunk.old_start + hunk.old_count, hunk.new_start + hunk.new_count
    return Hunk(old, old, new, new, ())


def _shorten(file: FileDiff, line: DiffLine, room: int, cut: list[str]) -> DiffLine:
    """Return the line, its text shortened if the line alone does not fit."""
    if estimate_tokens(_render_line(line)) <= room:
        return line
    # One line costs ceil(bytes / 3.6) + 2 (its text and its line break).
    keep = (room - 2) * _BYTES // _TOKENS - 1
    if keep < 1:
        raise ValueError(f"A budget that leaves {room} tokens cannot hold a line.")
    text = line.text.encode("utf-8")[:keep].decode("utf-8", errors="ignore")
    side, number = (
        ("new", line.new_number)
        if line.new_number is not None
        else ("old", line.old_number)
    )
    cut.append(
        f"{file.path}: line {number} of the {side} file was shortened from "
        f"{len(line.text)} to {len(text)} characters."
    )
    return replace(line, text=text)


def _slice(lines: list[DiffLine], room: int) -> list[tuple[int, int, int]]:
    """Return (start, end, cost) of consecutive runs of lines that fit ``room``."""
    costs = [estimate_tokens(_render_line(line)) for line in lines]
    slices: list[tuple[int, int, int]] = []
    start, used = 0, 0
    for index, cost in enumerate(costs):
        if index > start and used + cost > room:
            slices.append((start, index, used))
            start, used = index, 0
        used += cost
    slices.append((start, len(lines), used))
    return slices


def _subhunk(hunk: Hunk, lines: list[DiffLine], start: int, end: int) -> Hunk:
    """Return lines ``start:end`` of the hunk as a hunk with its own header."""
    old = hunk.old_start + _count(lines[:start], "added")
    new = hunk.new_start + _count(lines[:start], "removed")
    part = lines[start:end]
    old_count, new_count = _count(part, "added"), _count(part, "removed")
    return Hunk(old, old_count, new, new_count, tuple(part))


def _count(lines: Iterable[DiffLine], other_side: str) -> int:
    """Return how many of ``lines`` are on a side (all but the other side's kind)."""
    return sum(1 for line in lines if line.kind != other_side)
