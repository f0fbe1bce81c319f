"""Token estimates, the input budget, file order, and packing a diff into chunks."""

from __future__ import annotations

import time

import pytest

from ai_code_reviewer.review.budget import (
    Chunk,
    Piece,
    Plan,
    estimate_tokens,
    importance,
    input_budget,
    plan_chunks,
    render_chunk,
)
from ai_code_reviewer.review.diff import parse_unified_diff
from ai_code_reviewer.review.filters import filter_files
from ai_code_reviewer.review.model import DiffLine, FileDiff, Hunk, LineKind

KINDS: tuple[LineKind, ...] = ("context", "removed", "added", "added")
SAMPLES = [
    "def main() -> int:\n    return 0\n",
    "    if (x === undefined) { throw new Error(`bad ${x}`); }\n",
    "naïve café — ünïcödé 日本語のテキスト\n",
    "a" * 5000,
    "\n\n\n",
]


def hunk_text(old_start: int, new_start: int, size: int, tag: str) -> list[str]:
    """Return the lines of one hunk of ``size`` lines whose kinds cycle."""
    kinds = [KINDS[index % len(KINDS)] for index in range(size)]
    old_count = sum(kind != "added" for kind in kinds)
    new_count = sum(kind != "removed" for kind in kinds)
    body = [
        {"context": " ", "removed": "-", "added": "+"}[kind]
        + f"    value_{tag}_{index} = compute({index}, name='{tag}')"
        for index, kind in enumerate(kinds)
    ]
    return [f"@@ -{old_start},{old_count} +{new_start},{new_count} @@", *body]


def file_text(path: str, size: int, hunk_size: int = 10) -> list[str]:
    """Return a modified file's diff with ``size`` lines in hunks of ``hunk_size``."""
    lines = [f"diff --git a/{path} b/{path}", f"--- a/{path}", f"+++ b/{path}"]
    old = new = 1
    for start in range(0, size, hunk_size):
        count = min(hunk_size, size - start)
        lines += hunk_text(old, new, count, f"{start}")
        old, new = old + 100, new + 100
    return lines


def make_file(path: str, size: int, hunk_size: int = 10) -> FileDiff:
    """Parse and return one modified file of ``size`` hunk lines."""
    [file] = parse_unified_diff("\n".join(file_text(path, size, hunk_size))).files
    return file


def line_count(files: list[FileDiff] | tuple[FileDiff, ...]) -> int:
    """Return how many hunk lines the files hold."""
    return sum(len(hunk.lines) for file in files for hunk in file.hunks)


def pieces(plan: Plan) -> list[Piece]:
    """Return every piece of the plan, in chunk order."""
    return [piece for chunk in plan.chunks for piece in chunk.pieces]


def assert_within(plan: Plan, budget: int) -> None:
    """Check that every chunk fits and that its count is its rendering's estimate."""
    for chunk in plan.chunks:
        assert chunk.tokens == estimate_tokens(render_chunk(chunk))
        assert chunk.tokens <= budget


def test_estimate_is_monotonic() -> None:
    """Adding text never lowers the estimate."""
    text = "".join(SAMPLES)

    estimates = [estimate_tokens(text[:end]) for end in range(len(text) + 1)]

    assert estimates == sorted(estimates)
    assert estimates[0] == 0


@pytest.mark.parametrize("text", SAMPLES)
def test_estimate_is_above_chars_over_four(text: str) -> None:
    """The estimate is never below the naive guess of four characters a token."""
    assert estimate_tokens(text) >= len(text) / 4


def test_input_budget_subtracts_prompt_and_answer() -> None:
    """What is left for the diff is the context less the prompt and the answer."""
    assert input_budget(16_000, 1_500, 2_000) == 12_500


@pytest.mark.parametrize(
    ("context", "prompt", "answer"), [(3000, 1500, 1500), (10, -1, 0)]
)
def test_input_budget_refuses_no_room(context: int, prompt: int, answer: int) -> None:
    """A budget with no room left, or a negative count, is refused with a sentence."""
    with pytest.raises(ValueError, match=r"\.$"):
        input_budget(context, prompt, answer)


def test_importance_orders_source_config_then_docs_and_tests() -> None:
    """Source comes first, then config, then unknown kinds, then docs and tests."""
    files = [
        make_file("README.md", 40),
        make_file("tests/test_app.py", 40),
        make_file("config/app.yaml", 4),
        make_file("src/small.py", 4),
        make_file("assets/data.bin2", 4),
        make_file("src/big.py", 40),
        make_file("src/also_small.py", 4),
        make_file("web/app.spec.ts", 4),
        make_file("src/latest_news.py", 2),
    ]

    ordered = [file.path for file in sorted(files, key=importance)]

    assert ordered == [
        "src/big.py",
        "src/also_small.py",
        "src/small.py",
        "src/latest_news.py",
        "config/app.yaml",
        "assets/data.bin2",
        "README.md",
        "tests/test_app.py",
        "web/app.spec.ts",
    ]


def test_packing_respects_the_budget() -> None:
    """Whole files are packed so that no chunk's estimate passes the budget."""
    files = [make_file(f"src/m{index}.py", 5 + index % 30) for index in range(60)]

    plan = plan_chunks(files, 2_000)

    assert_within(plan, 2_000)
    assert len(plan.chunks) > 1
    assert sorted(piece.label for piece in pieces(plan)) == sorted(
        f.path for f in files
    )
    assert plan.cut == ()


def test_large_file_is_split_at_hunk_boundaries() -> None:
    """A file over the budget is split into labelled parts made of its whole hunks."""
    file = make_file("src/big.py", 200)

    plan = plan_chunks([file], 600)

    parts = pieces(plan)
    assert len(parts) > 1
    assert [p.label for p in parts] == [
        f"src/big.py (part {i} of {len(parts)})" for i in range(1, len(parts) + 1)
    ]
    assert tuple(h for p in parts for h in p.file.hunks) == file.hunks
    assert plan.cut == ()
    assert_within(plan, 600)


def test_oversized_hunk_is_cut_and_recorded() -> None:
    """A hunk over the budget is cut at line boundaries and the cut is recorded."""
    file = make_file("src/huge.py", 400, hunk_size=400)

    plan = plan_chunks([file], 1_000)

    [note] = plan.cut
    assert note.startswith("src/huge.py: the hunk at new line 1 (400 lines)")
    lines = [line for p in pieces(plan) for h in p.file.hunks for line in h.lines]
    assert tuple(lines) == file.hunks[0].lines
    assert_within(plan, 1_000)


def test_cut_hunks_render_back_to_the_same_lines() -> None:
    """The rendered parts of a cut hunk parse back to the original numbered lines."""
    file = make_file("src/huge.py", 300, hunk_size=300)
    plan = plan_chunks([file], 800)

    text = "".join(render_chunk(chunk) for chunk in plan.chunks)

    reparsed = parse_unified_diff(text).files
    assert {f.path for f in reparsed} == {"src/huge.py"}
    lines = tuple(line for f in reparsed for h in f.hunks for line in h.lines)
    assert lines == file.hunks[0].lines


def test_overlong_line_is_shortened_and_recorded() -> None:
    """A single line over the budget is shortened, and the shortening recorded."""
    line = DiffLine("added", "x" * 20_000, None, 1)
    file = FileDiff(
        "src/blob.py", "src/blob.py", "modified", (Hunk(1, 0, 1, 1, (line,)),)
    )

    plan = plan_chunks([file], 500)

    assert any(
        "line 1 of the new file was shortened from 20000" in note for note in plan.cut
    )
    [piece] = pieces(plan)
    assert piece.file.hunks[0].lines[0].text == "x" * len(
        piece.file.hunks[0].lines[0].text
    )
    assert_within(plan, 500)


def test_budget_too_small_for_a_header_is_refused() -> None:
    """A budget that cannot hold a file's header raises ValueError."""
    file = make_file("src/" + "deep/" * 40 + "app.py", 20)

    with pytest.raises(ValueError, match="cannot hold"):
        plan_chunks([file], 30)


def test_chunk_estimate_is_what_render_gives() -> None:
    """A chunk's token count is the estimate of its rendered text."""
    file = make_file("src/app.py", 12)

    [chunk] = plan_chunks([file], 10_000).chunks

    assert chunk == Chunk((Piece(file),), estimate_tokens(render_chunk(chunk)))


def acceptance_diff() -> tuple[str, list[str]]:
    """Return a 20,000-line diff over 500 files, with one file in one huge hunk."""
    suffixes = ["src/pkg{0}/mod_{1}.py", "web/app{0}/view_{1}.ts", "conf/s{0}_{1}.yaml"]
    suffixes += ["docs/d{0}/page_{1}.md", "tests/t{0}/test_{1}.py"]
    paths = [suffixes[i % 5].format(i % 13, i) for i in range(500)]
    sizes = [10 + (index * 7) % 50 for index in range(499)]
    sizes.append(20_000 - sum(sizes))
    lines: list[str] = []
    for path, size in zip(paths, sizes, strict=True):
        lines += file_text(path, size, hunk_size=size if size > 1000 else 10)
    return "\n".join(lines) + "\n", paths


def test_acceptance_500_files_fit_a_16k_context() -> None:
    """A 20,000-line diff over 500 files is planned with every file and line kept."""
    text, paths = acceptance_diff()
    budget = input_budget(16_000, 1_500, 2_000)
    started = time.perf_counter()

    result = filter_files(parse_unified_diff(text))
    plan = plan_chunks(result.kept, budget)

    elapsed = time.perf_counter() - started
    assert elapsed < 3.0
    assert result.skipped == ()
    assert {piece.file.path for piece in pieces(plan)} == set(paths)
    assert line_count([p.file for p in pieces(plan)]) == 20_000
    assert line_count(result.kept) == 20_000
    assert len(plan.cut) == 1
    assert_within(plan, budget)


def test_render_keeps_paths_and_status() -> None:
    """Added, deleted, renamed and binary files render to a diff that parses back."""
    line = DiffLine("added", "x = 1", None, 1)
    files = [
        FileDiff(None, "src/new.py", "added", (Hunk(0, 0, 1, 1, (line,)),)),
        FileDiff("src/gone.py", None, "deleted", ()),
        FileDiff("src/a.py", "src/b.py", "renamed", ()),
        FileDiff("img/logo.png", "img/logo.png", "binary", ()),
    ]
    plan = plan_chunks(files, 10_000)

    reparsed = parse_unified_diff(render_chunk(plan.chunks[0])).files

    assert sorted(reparsed, key=lambda f: f.path) == sorted(files, key=lambda f: f.path)


@pytest.mark.parametrize("budget", range(120, 400, 23))
def test_shortened_lines_fit_any_budget(budget: int) -> None:
    """Long lines of multi-byte text are shortened to fit whatever the budget."""
    long = DiffLine("added", "日本語 " * 3000, None, 1)
    other = DiffLine("removed", "é" * 900, 1, None)
    hunk = Hunk(1, 1, 1, 1, (other, long))
    file = FileDiff("src/text.py", "src/text.py", "modified", (hunk,))

    plan = plan_chunks([file], budget)

    assert_within(plan, budget)
    assert len([p for p in pieces(plan) for h in p.file.hunks for _ in h.lines]) == 2
