"""The model review engine: chunks within the context, secrets masked, fallbacks."""

from __future__ import annotations

import base64
import logging
import random
from pathlib import Path

import pytest

from ai_code_reviewer.errors import (
    ConfigError,
    ContextTooLong,
    LLMError,
    TransientError,
)
from ai_code_reviewer.llm.base import ModelPrompt, Reviewer
from ai_code_reviewer.llm.builtin import BuiltinReviewer
from ai_code_reviewer.llm.engine import EngineConfig, ModelReviewer
from ai_code_reviewer.llm.factory import build_reviewer
from ai_code_reviewer.review.budget import estimate_tokens
from ai_code_reviewer.review.diff import parse_unified_diff
from ai_code_reviewer.review.model import Diff, ReviewResult
from ai_code_reviewer.review.prompt import prompt_version
from tests.conftest import make_settings, sqlite_url
from tests.unit.llm.fake_model import FakeModelClient, Step, files_in, finding


def file_text(path: str, body: list[str], start: int = 1) -> str:
    """Return a one-hunk git diff of ``body`` lines (each with its +/-/space mark)."""
    old = sum(1 for line in body if not line.startswith("+"))
    new = sum(1 for line in body if not line.startswith("-"))
    header = [f"diff --git a/{path} b/{path}", f"--- a/{path}", f"+++ b/{path}"]
    return "\n".join([*header, f"@@ -{start},{old} +{start},{new} @@", *body]) + "\n"


def diff_of(*files: str) -> Diff:
    """Parse the concatenated file diffs."""
    return parse_unified_diff("".join(files))


SMALL = file_text(
    "app/calc.py",
    [" def total(items):", "-    return sum(items)", "+    return sum(items) + 1", " "],
    start=10,
)


def config(**overrides: object) -> EngineConfig:
    """Return an engine configuration with a roomy context, overridden."""
    values: dict[str, object] = {"context_tokens": 32768, "max_output_tokens": 2048}
    values.update(overrides)
    return EngineConfig(**values)  # type: ignore[arg-type]


def covered(result: ReviewResult, path: str) -> bool:
    """Tell whether ``path`` is reviewed, skipped or named in a cut entry."""
    return (
        path in result.reviewed
        or any(item.path == path for item in result.skipped)
        or any(entry.startswith(f"{path}:") for entry in result.cut)
    )


def prompt_tokens(prompt: ModelPrompt) -> int:
    """Return the estimated tokens of a prompt's two parts."""
    return estimate_tokens(prompt.system) + estimate_tokens(prompt.user)


async def test_the_engine_is_a_reviewer() -> None:
    """ModelReviewer names the main client's provider and model and reviews a diff."""
    client = FakeModelClient(model="gpt-4o-mini")
    reviewer: Reviewer = ModelReviewer([client], config())

    result = await reviewer.review(diff_of(SMALL))

    assert (reviewer.provider, reviewer.model) == ("fake", "gpt-4o-mini")
    assert result.reviewed == ("app/calc.py",)
    assert result.summary == "Part with 1 files looks fine."
    assert result.prompt_version == prompt_version()
    assert len(client.prompts) == 1


async def test_a_large_diff_fits_a_16k_context_and_every_file_is_accounted_for() -> (
    None
):
    """20,000 changed lines over 500 files: prompts within 16k, no file lost."""
    rng = random.Random(500)
    texts = []
    for index in range(500):
        body = [
            f"+    value_{index}_{n} = compute({rng.random():.6f})" for n in range(30)
        ]
        body += [f"-    old_{index}_{n} = legacy({n})" for n in range(10)]
        folder = "vendor" if index % 50 == 0 else f"pkg{index % 7}"
        suffix = (".py", ".ts", ".go", ".sql", ".md")[index % 5]
        texts.append(file_text(f"{folder}/module_{index}{suffix}", [" x = 1", *body]))
    diff = diff_of(*texts)
    client = FakeModelClient(model="qwen2.5-coder:7b")
    cfg = config(context_tokens=16384, max_output_tokens=4096, max_concurrency=4)

    result = await ModelReviewer([client], cfg).review(diff)

    assert sum(diff.counts()) == 20_000
    assert all(covered(result, file.path) for file in diff.files)
    assert len(result.skipped) == 10
    assert len(result.reviewed) == 490
    assert all(prompt_tokens(p) + 4096 <= 16384 for p in client.prompts)
    sent = {path for prompt in client.prompts for path in files_in(prompt)}
    assert sent == set(result.reviewed)
    assert len(client.prompts) > 10


async def test_a_file_larger_than_the_context_is_sent_in_parts() -> None:
    """A file too big for one prompt goes in parts, each within the context."""
    body = [f"+line_{n} = {n} * factor  # a fairly long comment" for n in range(3000)]
    diff = diff_of(file_text("big.py", body))
    client = FakeModelClient()

    result = await ModelReviewer([client], config(context_tokens=8192)).review(diff)

    assert result.reviewed == ("big.py",)
    assert len(client.prompts) > 3
    assert all(prompt_tokens(p) + 2048 <= 8192 for p in client.prompts)
    sent = "".join(prompt.user for prompt in client.prompts)
    assert all(f"line_{n} = {n} " in sent for n in range(3000))


# Made up, and assembled at run time so that this file holds no token.
AWS_KEY_ID = "AKIA" + "QZ7RT4VW2XY6LM3N"
AWS_SECRET = "Zx8Qw2Lr5Tn9Vb3Hk7Jm" + "1Pd4Fs6Gy0Ce2Ua8Wi5K"
GITHUB_TOKEN = "ghp_" + "R7tK2mQ9xV4bN8cL1zP6wS3yH5jD0fG2aE4u"
DB_PASSWORD = "S3cr3t" + "Pa55w0rdX"
APP_PASSWORD = "hunter2-" + "Correct-Horse-9"
KEY_BODY = base64.b64encode(random.Random(7).randbytes(600)).decode()
KEY_LINES = [KEY_BODY[i : i + 64] for i in range(0, len(KEY_BODY), 64)]
PEM = ["-----BEGIN RSA PRIVATE KEY-----", *KEY_LINES, "-----END RSA PRIVATE KEY-----"]
SECRET_VALUES = [AWS_KEY_ID, AWS_SECRET, GITHUB_TOKEN, DB_PASSWORD, APP_PASSWORD]
SECRET_VALUES += KEY_LINES


def secrets_diff() -> Diff:
    """Return a diff that plants secrets on added, removed and context lines."""
    settings_py = file_text(
        "app/settings.py",
        [
            f' OLD_TOKEN = "{GITHUB_TOKEN}"',  # new line 1 (context)
            f'-DB_URL = "postgres://app:{DB_PASSWORD}@db.internal:5432/app"',
            f'+AWS_ACCESS_KEY_ID = "{AWS_KEY_ID}"',  # new line 2
            f'+aws_secret_access_key = "{AWS_SECRET}"',  # new line 3
            f'+GITHUB = "{GITHUB_TOKEN}"',  # new line 4
            f'+DB_URL = "postgres://app:{DB_PASSWORD}@db.internal:5432/app"',  # 5
            f'+password = "{APP_PASSWORD}"',  # new line 6
            " DEBUG = False",  # new line 7
        ],
    )
    key_file = file_text("deploy/id_rsa.pem", [f"+{line}" for line in PEM])
    return diff_of(settings_py, key_file)


async def test_secrets_never_reach_a_prompt_and_become_findings() -> None:
    """Planted secrets are masked in every prompt and reported at their lines."""
    client = FakeModelClient()
    title = f"Rotate {GITHUB_TOKEN} for deploys"

    result = await ModelReviewer([client], config()).review(secrets_diff(), title=title)

    text = "".join(prompt.system + prompt.user for prompt in client.prompts)
    assert not [value for value in SECRET_VALUES if value in text]
    assert "[REDACTED:" in text
    secrets = {
        (f.path, f.line)
        for f in result.findings
        if f.severity == "critical" and f.category == "security"
    }
    expected = {("app/settings.py", line) for line in (2, 3, 4, 5, 6)}
    assert secrets == expected | {("deploy/id_rsa.pem", 1)}


async def test_masked_secrets_are_recorded_without_their_values() -> None:
    """Each masked secret is recorded by path, line, side and kind, never value."""
    client = FakeModelClient()

    result = await ModelReviewer([client], config()).review(
        secrets_diff(), title=f"Rotate {GITHUB_TOKEN}"
    )

    records = {(r.path, r.line, r.side, r.kind) for r in result.redacted}
    assert ("app/settings.py", 1, "new", "github_token") in records
    assert ("app/settings.py", 2, "old", "url_password") in records
    assert ("app/settings.py", 2, "new", "aws_access_key_id") in records
    assert ("deploy/id_rsa.pem", 1, "new", "private_key") in records
    assert ("", None, "new", "github_token") in records
    stored = str(result.coverage_json())
    assert not [value for value in SECRET_VALUES if value in stored]


def answer_with(*findings: dict[str, object]) -> dict[str, object]:
    """Return an answer object with a summary and ``findings``."""
    return {"summary": "One problem.", "findings": list(findings)}


async def test_findings_are_placed_on_added_lines_or_moved_up() -> None:
    """Inline on added lines, file-level elsewhere, change-level off the diff."""
    client = FakeModelClient(
        script=[
            answer_with(
                finding("b/app/calc.py", 11, title="Off by one"),
                finding("app/calc.py", 10, title="Context remark"),
                finding("app/other.py", 3, title="Elsewhere"),
            )
        ]
    )

    result = await ModelReviewer([client], config()).review(diff_of(SMALL))

    placed = {f.title: (f.path, f.line) for f in result.findings}
    assert placed == {
        "Off by one": ("app/calc.py", 11),
        "Context remark": ("app/calc.py", None),
        "Elsewhere": ("", None),
    }
    [moved] = [f for f in result.findings if f.title == "Elsewhere"]
    assert "app/other.py" in moved.body


async def test_repeated_findings_across_chunks_are_merged() -> None:
    """The same finding from several chunks is kept once, at its worst severity."""
    files = [
        file_text(f"mod_{n}.py", [f"+value_{n}_{k} = {k} * scale" for k in range(300)])
        for n in range(4)
    ]
    severities = iter(["minor", "critical", "info", "major", "minor"])

    def respond(prompt: ModelPrompt) -> Step:
        shared = finding("mod_0.py", None, title="Missing  TESTS", category="test")
        return answer_with({**shared, "severity": next(severities)})

    client = FakeModelClient(respond=respond)
    cfg = config(context_tokens=8192, max_output_tokens=1024)

    result = await ModelReviewer([client], cfg).review(diff_of(*files))

    parts = len(client.prompts)
    assert parts >= 2
    assert [(f.path, f.severity) for f in result.findings] == [("mod_0.py", "critical")]
    assert result.summary.startswith(f"The model reviewed 4 files in {parts} parts.")


async def test_a_failing_client_hands_the_chunk_to_the_next(
    caplog: pytest.LogCaptureFixture,
) -> None:
    """A TransientError or LLMError moves the chunk to the fallback model."""
    main = FakeModelClient(model="gpt-4o", script=[TransientError("503")])
    second = FakeModelClient(model="gpt-4o-mini")
    caplog.set_level(logging.WARNING, logger="ai_code_reviewer.llm.engine")

    result = await ModelReviewer([main, second], config()).review(diff_of(SMALL))

    assert result.model == "gpt-4o-mini"
    assert result.reviewed == ("app/calc.py",)
    assert len(main.prompts) == len(second.prompts) == 1
    assert [r.getMessage() for r in caplog.records] == ["review.chunk_fallback"]


async def test_when_every_client_fails_the_first_error_is_raised() -> None:
    """A transient first failure stays transient even if the fallback fails for good."""
    main = FakeModelClient(script=[TransientError("timed out", retry_after=30)])
    second = FakeModelClient(script=[LLMError("401 from the server")])

    with pytest.raises(TransientError) as raised:
        await ModelReviewer([main, second], config()).review(diff_of(SMALL))

    assert raised.value.retry_after == 30


def too_long_over(files: int) -> FakeModelClient:
    """Return a client that refuses any prompt holding more than ``files`` files."""

    def respond(prompt: ModelPrompt) -> Step:
        if len(files_in(prompt)) > files:
            return ContextTooLong("prompt too long")
        return {"summary": "Fine.", "findings": []}

    return FakeModelClient(respond=respond)


async def test_a_chunk_the_model_finds_too_long_is_split(
    caplog: pytest.LogCaptureFixture,
) -> None:
    """ContextTooLong plans the chunk again at half the budget and sends the halves."""
    files = [file_text(f"m{n}.py", [f"+v = {n}", "+w = v * 2"]) for n in range(8)]
    client = too_long_over(2)
    caplog.set_level(logging.WARNING, logger="ai_code_reviewer.llm.engine")

    result = await ModelReviewer([client], config()).review(diff_of(*files))

    assert sorted(result.reviewed) == [f"m{n}.py" for n in range(8)]
    assert result.cut == ()
    assert "review.chunk_split" in [r.getMessage() for r in caplog.records]


async def test_a_chunk_refused_after_two_halvings_is_cut() -> None:
    """After two halvings the refused files are recorded as cut, with the reason."""
    files = [file_text(f"m{n}.py", [f"+v = {n}", "+w = v * 2"]) for n in range(8)]
    client = too_long_over(0)

    result = await ModelReviewer([client], config()).review(diff_of(*files))

    assert result.reviewed == ()
    assert all(covered(result, f"m{n}.py") for n in range(8))
    assert all("not reviewed" in entry for entry in result.cut)
    assert any("too long" in entry for entry in result.cut)
    assert not result.findings


async def test_concurrent_calls_never_exceed_the_limit() -> None:
    """No more than max_concurrency model calls run at once, and that many do."""
    files = [
        file_text(f"f{n}.py", [f"+item_{n}_{k} = {k} * scale" for k in range(200)])
        for n in range(30)
    ]
    client = FakeModelClient(delay=0.01)
    cfg = config(context_tokens=8192, max_output_tokens=1024, max_concurrency=3)

    await ModelReviewer([client], cfg).review(diff_of(*files))

    assert len(client.prompts) >= 6
    assert client.most_in_flight == 3


async def test_cost_comes_from_the_table() -> None:
    """The usage of a known model is priced from models.toml."""
    client = FakeModelClient(model="gpt-4o-mini")

    result = await ModelReviewer([client], config()).review(diff_of(SMALL))

    usage = result.usage
    expected = (usage.prompt_tokens * 0.15 + usage.completion_tokens * 0.60) / 1e6
    assert usage.prompt_tokens > 0
    assert usage.cost_usd == pytest.approx(expected)


async def test_cost_comes_from_llm_prices_and_is_none_when_unknown() -> None:
    """LLM_PRICES prices an unknown model; without a price the cost is None."""
    priced = FakeModelClient(model="house-model")
    unpriced = FakeModelClient(model="house-model")
    prices = '{"house-model": [1.0, 3.0]}'

    with_price = await ModelReviewer([priced], config(prices=prices)).review(
        diff_of(SMALL)
    )
    without = await ModelReviewer([unpriced], config()).review(diff_of(SMALL))

    usage = with_price.usage
    expected = (usage.prompt_tokens * 1.0 + usage.completion_tokens * 3.0) / 1e6
    assert usage.cost_usd == pytest.approx(expected)
    assert without.usage.cost_usd is None


async def test_a_model_that_rejects_some_findings_still_gives_the_valid_ones() -> None:
    """Invalid findings are listed as rejected; the valid ones are kept."""
    bad = {**finding("app/calc.py", 11), "severity": "blocker"}
    client = FakeModelClient(
        script=[answer_with(finding("app/calc.py", 11, title="Off by one"), bad)]
    )

    result = await ModelReviewer([client], config()).review(diff_of(SMALL))

    assert [f.title for f in result.findings] == ["Off by one"]
    assert len(result.rejected) == 1
    assert result.rejected[0].startswith("part 1: finding 1: severity")


async def test_skipped_files_are_listed_and_not_sent() -> None:
    """Lock files and ignore globs are skipped with a reason and never prompted."""
    lock = file_text("package-lock.json", ['+{"lockfileVersion": 3}'])
    docs = file_text("docs/notes.md", ["+Some notes."])
    client = FakeModelClient()

    result = await ModelReviewer([client], config(ignore_globs=("docs/**",))).review(
        diff_of(SMALL, lock, docs)
    )

    assert [item.path for item in result.skipped] == [
        "package-lock.json",
        "docs/notes.md",
    ]
    assert files_in(client.prompts[0]) == ["app/calc.py"]


async def test_guidelines_and_title_reach_the_prompt() -> None:
    """The team's guidelines go into the system prompt, the title into the user's."""
    client = FakeModelClient()
    cfg = config(guidelines="Never use print for logging.")

    await ModelReviewer([client], cfg).review(diff_of(SMALL), title="Fix totals")

    [prompt] = client.prompts
    assert "Never use print for logging." in prompt.system
    assert "Fix totals" in prompt.user
    assert prompt.max_output_tokens == 2048
    assert prompt.context_tokens == 32768


async def test_a_context_too_small_for_the_prompt_is_a_config_error() -> None:
    """A context that leaves no room for any diff is refused in one sentence."""
    client = FakeModelClient()
    cfg = config(context_tokens=2500, max_output_tokens=2048)

    with pytest.raises(ConfigError, match="LLM_CONTEXT_TOKENS"):
        await ModelReviewer([client], cfg).review(diff_of(SMALL))

    assert client.prompts == []


def test_the_factory_gives_the_builtin_reviewer_by_default(tmp_path: Path) -> None:
    """LLM_PROVIDER=builtin builds the offline reviewer."""
    reviewer = build_reviewer(make_settings(sqlite_url(tmp_path / "f.db"), tmp_path))

    assert isinstance(reviewer, BuiltinReviewer)


@pytest.mark.parametrize(
    ("overrides", "message"),
    [
        ({"llm_provider": "ollama"}, "LLM_MODEL is required"),
        (
            {"llm_provider": "ollama", "llm_model": "m", "llm_prices": "[1, 2]"},
            "LLM_PRICES",
        ),
    ],
)
def test_the_factory_refuses_missing_or_malformed_settings(
    tmp_path: Path, overrides: dict[str, object], message: str
) -> None:
    """A missing model or malformed LLM_PRICES is a ConfigError naming the setting."""
    settings = make_settings(sqlite_url(tmp_path / "f.db"), tmp_path, **overrides)

    with pytest.raises(ConfigError, match=message):
        build_reviewer(settings)


def test_the_factory_names_a_missing_guidelines_file(tmp_path: Path) -> None:
    """A guidelines file that does not exist is a ConfigError naming its path."""
    missing = tmp_path / "guidelines.md"
    settings = make_settings(
        sqlite_url(tmp_path / "f.db"),
        tmp_path,
        llm_provider="ollama",
        llm_model="qwen2.5-coder:7b",
        review_guidelines_file=missing,
    )

    with pytest.raises(ConfigError, match=str(missing)):
        build_reviewer(settings)


async def test_the_factory_builds_the_engine_with_guidelines(tmp_path: Path) -> None:
    """A model provider gets the engine, the table's context and the guidelines."""
    guidelines = tmp_path / "guidelines.md"
    guidelines.write_text("Prefer pathlib over os.path.\n", encoding="utf-8")
    settings = make_settings(
        sqlite_url(tmp_path / "f.db"),
        tmp_path,
        llm_provider="ollama",
        llm_model="qwen2.5-coder:7b",
        llm_fallback_models="llama3.1:8b",
        review_guidelines_file=guidelines,
    )

    reviewer = build_reviewer(settings)

    assert isinstance(reviewer, ModelReviewer)
    await reviewer.aclose()
    assert [client.model for client in reviewer.clients] == [
        "qwen2.5-coder:7b",
        "llama3.1:8b",
    ]
    assert reviewer.config.context_tokens == 32768
    assert reviewer.config.guidelines == "Prefer pathlib over os.path.\n"


async def test_a_change_of_skipped_files_asks_no_model() -> None:
    """When every file is skipped, no prompt is sent and the summary says why."""
    lock = file_text("poetry.lock", ['+name = "x"'])
    client = FakeModelClient()

    result = await ModelReviewer([client], config()).review(diff_of(lock))

    assert client.prompts == []
    assert "skipped" in result.summary
    assert result.usage.cost_usd == 0.0
    assert result.model == client.model


async def test_every_secret_on_a_line_is_recorded() -> None:
    """Two secrets on one added line give two records and two findings."""
    line = f'+creds = ["{AWS_KEY_ID}", "{GITHUB_TOKEN}"]'
    client = FakeModelClient()

    result = await ModelReviewer([client], config()).review(
        diff_of(file_text("keys.py", [line]))
    )

    assert sorted(r.kind for r in result.redacted) == [
        "aws_access_key_id",
        "github_token",
    ]
    assert len(result.findings) == 2
