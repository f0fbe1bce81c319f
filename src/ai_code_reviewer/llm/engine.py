"""Review a diff with language models: mask secrets, plan chunks, ask, merge.

The steps of :meth:`ModelReviewer.review`:

1. leave out the files no one should review (:func:`filter_files`);
2. mask every secret in the kept files and the title before any prompt is
   written; a secret on an added line becomes a critical finding, since the
   model can no longer see it;
3. pack the files into chunks whose whole prompt fits the context window less
   the answer's room (the prompt numbers its lines, so each chunk is measured
   as rendered and planned again smaller when it is over);
4. ask the clients about each chunk, at most ``max_concurrency`` calls at
   once; a client that fails hands the chunk to the next one, and a chunk the
   model finds too long is planned again at half the size (twice at most);
5. check the findings' lines and merge them (:mod:`review.placement`).

Every file of the diff ends up reviewed, skipped or cut, with the reason.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import time
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, replace

from ai_code_reviewer.errors import (
    ConfigError,
    ContextTooLong,
    LLMError,
    ReviewerError,
    TransientError,
)
from ai_code_reviewer.llm.base import ModelAnswer, ModelClient, ModelPrompt
from ai_code_reviewer.llm.catalog import cost
from ai_code_reviewer.review.budget import (
    Chunk,
    Plan,
    estimate_tokens,
    input_budget,
    plan_chunks,
)
from ai_code_reviewer.review.filters import filter_files
from ai_code_reviewer.review.masking import Masked, mask_secrets
from ai_code_reviewer.review.model import (
    Diff,
    FileDiff,
    ReviewResult,
    Skipped,
    Usage,
)
from ai_code_reviewer.review.placement import merge_findings, place_findings
from ai_code_reviewer.review.prompt import (
    build_prompt,
    languages,
    prompt_version,
    system_prompt,
    user_prompt,
)

logger = logging.getLogger(__name__)

_MAX_HALVINGS = 2
_WHOLE_REFITS = 3
_MAX_REFITS = 8
# Part labels are measured at their widest, so that numbering never tips a
# chunk over the limit: "part 9999.9.9 of 9999".
_WIDEST_PART, _WIDEST_PARTS = "9999.9.9", "9999"
_SUMMARY_PARTS = 10


@dataclass(frozen=True)
class EngineConfig:
    """The settings of one :class:`ModelReviewer`.

    ``prices`` is the text of LLM_PRICES; ``guidelines`` the team's text.
    """

    context_tokens: int
    max_output_tokens: int = 4096
    max_concurrency: int = 2
    ignore_globs: tuple[str, ...] = ()
    guidelines: str | None = None
    prices: str | None = None


@dataclass(frozen=True)
class _Planned:
    """A chunk ready to send, the diff budget it was planned with, its halvings."""

    chunk: Chunk
    budget: int
    halvings: int = 0


@dataclass(frozen=True)
class _Answered:
    label: str
    chunk: Chunk
    answer: ModelAnswer


class ModelReviewer:
    """Review a diff with one model, falling back to the next ones in order."""

    def __init__(self, clients: Sequence[ModelClient], config: EngineConfig) -> None:
        if not clients:
            raise ConfigError("A model reviewer needs at least one model client.")
        self.clients = tuple(clients)
        self.config = config
        self.provider = self.clients[0].provider
        self.model = self.clients[0].model

    async def review(self, diff: Diff, *, title: str | None = None) -> ReviewResult:
        """Return the review of ``diff`` (``title``: the commit or pull request's).

        Raises:
            ConfigError: the context window leaves no room for any diff.
            LLMError: every client failed for good on some chunk.
            TransientError: the first client failed in a way worth retrying,
                and no fallback client answered.
        """
        started = time.perf_counter()
        filtered = filter_files(diff, self.config.ignore_globs)
        masked = await asyncio.to_thread(mask_secrets, filtered.kept, title)
        run = _Run(self.clients, self.config, masked.title)
        planned = await asyncio.to_thread(run.plan, masked.files)
        await run.ask_chunks(planned)
        result = self._result(run, masked, filtered.skipped)
        _log_finished(diff, result, len(run.answers), started)
        return result

    async def check(self) -> str:
        """Check the first model's server, spending no tokens; name every model.

        Fallback models are not checked: they matter only once the first fails.

        Raises:
            LLMError: the key was refused, or the server lacks the model.
            TransientError: the server is down, slow, or failing.
        """
        detail = await self.clients[0].check()
        names = ", ".join(client.model for client in self.clients)
        return f"{detail}; models in order: {names}"

    async def aclose(self) -> None:
        """Close every client's connections."""
        for client in self.clients:
            await client.aclose()

    def _result(
        self, run: _Run, masked: Masked, skipped: tuple[Skipped, ...]
    ) -> ReviewResult:
        answers = sorted(run.answers, key=lambda item: _label_key(item.label))
        seen = {piece.file.path for item in answers for piece in item.chunk.pieces}
        reviewed = [file for file in masked.files if file.path in seen]
        found = [finding for item in answers for finding in item.answer.findings]
        findings = merge_findings([*masked.findings, *place_findings(found, reviewed)])
        return ReviewResult(
            summary=_summary(answers, len(reviewed), len(masked.files), skipped),
            findings=findings,
            provider=self.provider,
            model=self._models(answers),
            skipped=skipped,
            reviewed=tuple(file.path for file in reviewed),
            cut=tuple(dict.fromkeys(run.cut)),
            usage=_usage(answers, self.config.prices),
            redacted=masked.redacted,
            rejected=tuple(
                f"part {item.label}: {why}"
                for item in answers
                for why in item.answer.rejected
            ),
            prompt_version=prompt_version(),
        )

    def _models(self, answers: Sequence[_Answered]) -> str:
        """Return the models that answered, main one first (the main one if none)."""
        used = {item.answer.model for item in answers}
        names = [client.model for client in self.clients if client.model in used]
        names += sorted(used - set(names))
        return ", ".join(names) or self.model


class _Run:
    """The chunks of one review, their answers, and what was cut."""

    def __init__(
        self, clients: Sequence[ModelClient], config: EngineConfig, title: str | None
    ) -> None:
        self.clients = clients
        self.config = config
        self.title = title
        self.limit = config.context_tokens - config.max_output_tokens
        self.slots = asyncio.Semaphore(config.max_concurrency)
        self.answers: list[_Answered] = []
        self.cut: list[str] = []
        self.parts = "1"

    def plan(self, files: Sequence[FileDiff]) -> list[_Planned]:
        """Return the chunks of ``files``, each prompt within the context."""
        if not files:
            return []
        return self.fit(files, self._first_budget(files), halvings=0)

    def _first_budget(self, files: Sequence[FileDiff]) -> int:
        """Return the diff's budget once the prompt around it is set aside."""
        system = system_prompt(languages(f.path for f in files), self.config.guidelines)
        user = user_prompt(Chunk((), 0), _WIDEST_PART, _WIDEST_PARTS, self.title)
        around = estimate_tokens(system) + estimate_tokens(user)
        try:
            return input_budget(
                self.config.context_tokens, around, self.config.max_output_tokens
            )
        except ValueError:
            raise ConfigError(
                f"A context of {self.config.context_tokens} tokens leaves no room "
                f"for a diff after the {around}-token prompt and the "
                f"{self.config.max_output_tokens}-token answer; raise "
                "LLM_CONTEXT_TOKENS or lower LLM_MAX_OUTPUT_TOKENS."
            ) from None

    def fit(
        self, files: Sequence[FileDiff], budget: int, halvings: int, depth: int = 0
    ) -> list[_Planned]:
        """Plan ``files`` in ``budget``; plan again smaller while a prompt is over.

        The first tries plan all the files again with the budget that brings
        the worst chunk under the limit; after them, only the chunks still over
        are planned again, so that one odd chunk does not shrink all the others.
        """
        plan = self._plan_or_cut(files, budget)
        if plan is None:
            return []
        sized = [(chunk, self.measure(chunk)) for chunk in plan.chunks]
        over = [(chunk, size) for chunk, size in sized if size > self.limit]
        smaller = min(
            (_shrink(chunk, size, self.limit) for chunk, size in over), default=0
        )
        if smaller > 0 and depth < _WHOLE_REFITS:
            return self.fit(files, smaller, halvings, depth + 1)
        self.cut += plan.cut
        planned = [
            _Planned(chunk, budget, halvings)
            for chunk, size in sized
            if size <= self.limit
        ]
        for chunk, size in over:
            if depth >= _MAX_REFITS:
                self._cut(_files(chunk), "its prompt stayed over the context")
                continue
            smaller = _shrink(chunk, size, self.limit)
            planned += self.fit(_files(chunk), smaller, halvings, depth + 1)
        return planned

    def _plan_or_cut(self, files: Sequence[FileDiff], budget: int) -> Plan | None:
        """Return the plan of ``files``, or None, cutting them, if none fits."""
        plan = None
        if budget > 0:
            with contextlib.suppress(ValueError):
                plan = plan_chunks(files, budget)
        if plan is None:
            self._cut(files, f"it does not fit in a chunk of {budget} tokens")
        return plan

    def measure(self, chunk: Chunk) -> int:
        """Return the estimated tokens of the chunk's whole prompt."""
        system, user = self._prompt(chunk, _WIDEST_PART, _WIDEST_PARTS)
        return estimate_tokens(system) + estimate_tokens(user)

    def _prompt(self, chunk: Chunk, part: str, parts: str) -> tuple[str, str]:
        return build_prompt(
            chunk, part, parts, title=self.title, guidelines=self.config.guidelines
        )

    def _cut(self, files: Iterable[FileDiff], why: str) -> None:
        self.cut += [f"{file.path}: not reviewed, {why}." for file in files]

    async def ask_chunks(self, planned: Sequence[_Planned]) -> None:
        """Ask about the planned chunks, numbering them ``part i of n``."""
        self.parts = str(len(planned))
        await self.ask_all(planned)

    async def ask_all(self, planned: Sequence[_Planned], prefix: str = "") -> None:
        """Ask about every chunk concurrently; raise the first chunk's failure."""
        try:
            async with asyncio.TaskGroup() as group:
                for index, item in enumerate(planned, start=1):
                    group.create_task(self.ask(item, f"{prefix}{index}"))
        except BaseExceptionGroup as failures:
            raise _first_error(failures) from None

    async def ask(self, planned: _Planned, label: str) -> None:
        """Ask about one chunk; split it when the model finds it too long."""
        system, user = self._prompt(planned.chunk, label, self.parts)
        prompt = ModelPrompt(
            system, user, self.config.max_output_tokens, self.config.context_tokens
        )
        try:
            answer = await self.complete(prompt)
        except ContextTooLong:
            await self.split(planned, label)
            return
        self.answers.append(_Answered(label, planned.chunk, answer))

    async def split(self, planned: _Planned, label: str) -> None:
        """Plan a chunk the model refused again at half the budget, and ask."""
        files = _files(planned.chunk)
        if planned.halvings >= _MAX_HALVINGS:
            self._cut(files, "the model found it too long even at a quarter size")
            return
        budget = min(planned.budget, planned.chunk.tokens) // 2
        logger.warning(
            "review.chunk_split",
            extra={"part": label, "files": len(files), "budget": budget},
        )
        smaller = self.fit(files, budget, planned.halvings + 1)
        await self.ask_all(smaller, prefix=f"{label}.")

    async def complete(self, prompt: ModelPrompt) -> ModelAnswer:
        """Return the first answer of the clients in order; else the first error."""
        errors: list[ReviewerError] = []
        for index, client in enumerate(self.clients):
            try:
                async with self.slots:
                    return await client.complete(prompt)
            except ContextTooLong:
                raise
            except (LLMError, TransientError) as exc:
                errors.append(exc)
                _log_fallback(client, self.clients[index + 1 :], exc)
        raise errors[0]


def _log_fallback(
    client: ModelClient, rest: Sequence[ModelClient], error: BaseException
) -> None:
    if rest:
        logger.warning(
            "review.chunk_fallback",
            extra={
                "failed_model": client.model,
                "next_model": rest[0].model,
                "error": type(error).__name__,
            },
        )


def _files(chunk: Chunk) -> list[FileDiff]:
    return [piece.file for piece in chunk.pieces]


def _shrink(chunk: Chunk, size: int, limit: int) -> int:
    """Return a budget under the chunk's own diff tokens by its prompt's excess.

    Planned with it, the chunk's files cannot all go in one chunk again.
    """
    return min(chunk.tokens * limit // size, chunk.tokens - (size - limit)) - 1


def _first_error(failures: BaseExceptionGroup[BaseException]) -> BaseException:
    """Return the first exception in a (nested) group of task failures."""
    first = failures.exceptions[0]
    if isinstance(first, BaseExceptionGroup):
        return _first_error(first)
    return first


def _label_key(label: str) -> tuple[int, ...]:
    return tuple(int(part) for part in label.split("."))


def _usage(answers: Sequence[_Answered], prices: str | None) -> Usage:
    """Return the usage of every answer, each priced for the model that answered."""
    total = Usage(cost_usd=0.0)
    for item in answers:
        usage = item.answer.usage
        priced = cost(item.answer.model, usage, prices)
        priced = usage.cost_usd if priced is None else priced
        total = total + replace(usage, cost_usd=priced)
    return total


def _summary(
    answers: Sequence[_Answered],
    reviewed: int,
    kept: int,
    skipped: Sequence[Skipped],
) -> str:
    """Return the one chunk's summary, or a short merge of the chunks' summaries."""
    if not answers and not kept:
        return (
            f"All {len(skipped)} files of this change were skipped (see why "
            "below), so no model was asked about it."
        )
    if not answers:
        return (
            f"None of the {kept} files left to review could be sent to the model; "
            "the files cut below say why."
        )
    if len(answers) == 1:
        return answers[0].answer.summary
    lines = [
        f"- Part {item.label}: {item.answer.summary}"
        for item in answers[:_SUMMARY_PARTS]
    ]
    if len(answers) > _SUMMARY_PARTS:
        lines.append(f"- {len(answers) - _SUMMARY_PARTS} more parts.")
    head = f"The model reviewed {reviewed} files in {len(answers)} parts."
    return "\n".join([head, *lines])


def _log_finished(
    diff: Diff, result: ReviewResult, chunks: int, started: float
) -> None:
    logger.info(
        "review.finished",
        extra={
            "files": len(diff.files),
            "chunks": chunks,
            "findings": len(result.findings),
            "prompt_tokens": result.usage.prompt_tokens,
            "completion_tokens": result.usage.completion_tokens,
            "cost_usd": result.usage.cost_usd,
            "duration_ms": round((time.perf_counter() - started) * 1000, 1),
        },
    )
