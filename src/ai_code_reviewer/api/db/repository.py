"""Hold the queries of the service: one repository per table.

Lists are newest first by id, which follows arrival order. A page is asked
for either by keyset (``before_id``: the ``next_cursor`` of the previous
page) or by ``offset``; keyset pages stay fast however deep they go. A total
is counted only when asked for, so that a plain page never counts a million
rows.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any, Generic, TypeVar

from sqlalchemy import ColumnElement, Select, delete, func, select, true
from sqlalchemy.ext.asyncio import AsyncSession
from sqlalchemy.orm import defer

from ai_code_reviewer.api.db.models import ReviewFailureLog, ReviewRecord, utcnow
from ai_code_reviewer.errors import RecordNotFound

ItemT = TypeVar("ItemT")


@dataclass(frozen=True)
class PageRequest:
    """Ask for one page: ``limit`` rows before ``before_id``, or after ``offset``."""

    limit: int = 50
    before_id: int | None = None
    offset: int = 0
    with_total: bool = False


@dataclass(frozen=True)
class Page(Generic[ItemT]):
    """One page of rows, the cursor of the next one, and the total when asked."""

    items: Sequence[ItemT]
    next_cursor: int | None
    total: int | None = None


@dataclass(frozen=True)
class ReviewFilter:
    """Narrow a list of reviews; None means no condition."""

    project_key: str | None = None
    repo_slug: str | None = None
    author_email: str | None = None
    commit_id: str | None = None
    pr_id: int | None = None
    since: datetime | None = None
    until: datetime | None = None

    def conditions(self) -> list[ColumnElement[bool]]:
        """Return the WHERE conditions this filter stands for."""
        model = ReviewRecord
        equal: list[tuple[Any, Any]] = [
            (model.project_key, self.project_key),
            (model.repo_slug, self.repo_slug),
            (model.author_email, self.author_email),
            (model.commit_id, self.commit_id),
            (model.pr_id, self.pr_id),
        ]
        found = [column == value for column, value in equal if value is not None]
        if self.since is not None:
            found.append(model.created_at >= self.since)
        if self.until is not None:
            found.append(model.created_at < self.until)
        return found


@dataclass(frozen=True)
class FailureFilter:
    """Narrow a list of failure logs; None means no condition."""

    resolved: bool | None = None
    failure_stage: str | None = None
    event_type: str | None = None
    project_key: str | None = None
    repo_slug: str | None = None

    def conditions(self) -> list[ColumnElement[bool]]:
        """Return the WHERE conditions this filter stands for."""
        model = ReviewFailureLog
        equal: list[tuple[Any, Any]] = [
            (model.resolved, self.resolved),
            (model.failure_stage, self.failure_stage),
            (model.event_type, self.event_type),
            (model.project_key, self.project_key),
            (model.repo_slug, self.repo_slug),
        ]
        return [column == value for column, value in equal if value is not None]


@dataclass(frozen=True)
class ReviewStats:
    """Counts of reviews: all, recent, by project, provider and email outcome."""

    total: int
    last_24h: int
    last_7d: int
    email_sent: int
    by_project: dict[str, int] = field(default_factory=dict)
    by_provider: dict[str, int] = field(default_factory=dict)
    oldest: datetime | None = None
    newest: datetime | None = None


@dataclass(frozen=True)
class FailureStats:
    """Counts of failure logs, and of unresolved ones by stage and error type."""

    total: int
    unresolved: int
    unresolved_by_stage: dict[str, int] = field(default_factory=dict)
    unresolved_by_error: list[tuple[str, str, int]] = field(default_factory=list)


def first_column(row: Sequence[Any]) -> Any:
    """Return the entity a row of ``select(Model, ...)`` starts with."""
    return row[0]


async def fetch_page(
    session: AsyncSession,
    query: Select[Any],
    model: type[Any],
    conditions: list[ColumnElement[bool]],
    request: PageRequest,
    item: Callable[[Sequence[Any]], ItemT] = first_column,
) -> Page[ItemT]:
    """Fetch one page of ``query``'s rows, newest ``model`` id first.

    ``query`` selects the model's entity first (and may select more columns,
    which ``item`` turns into the page's items); ``conditions`` filter both
    the page and, when asked for, the total.
    """
    query = query.where(*conditions)
    if request.before_id is not None:
        query = query.where(model.id < request.before_id)
    query = query.order_by(model.id.desc()).offset(request.offset)
    rows = (await session.execute(query.limit(request.limit + 1))).all()
    more = len(rows) > request.limit
    shown = rows[: request.limit]
    total = None
    if request.with_total:
        counted = select(func.count()).select_from(model).where(*conditions)
        total = (await session.execute(counted)).scalar_one()
    next_cursor = int(shown[-1][0].id) if more else None
    return Page(
        items=[item(row) for row in shown], next_cursor=next_cursor, total=total
    )


class ReviewRepository:
    """Read and write review_records."""

    def __init__(self, session: AsyncSession) -> None:
        self.session = session

    async def add(self, record: ReviewRecord) -> ReviewRecord:
        """Store a new review and return it with its id."""
        self.session.add(record)
        await self.session.flush()
        return record

    async def get(self, review_id: int) -> ReviewRecord:
        """Return one review; raise RecordNotFound when there is none."""
        record = await self.session.get(ReviewRecord, review_id)
        if record is None:
            raise RecordNotFound(f"review {review_id} not found")
        return record

    async def list(
        self, filters: ReviewFilter, request: PageRequest
    ) -> Page[ReviewRecord]:
        """Return one page of reviews matching ``filters``, newest first.

        The diff is not loaded: it can be large and lists do not show it.
        """
        skip_diff = defer(ReviewRecord.diff_content, raiseload=True)
        query = select(ReviewRecord).options(skip_diff)
        conditions = filters.conditions()
        return await fetch_page(self.session, query, ReviewRecord, conditions, request)

    async def count(self, filters: ReviewFilter | None = None) -> int:
        """Count reviews matching ``filters`` (all when None)."""
        conditions = filters.conditions() if filters else []
        query = select(func.count()).select_from(ReviewRecord).where(*conditions)
        return (await self.session.execute(query)).scalar_one()

    async def stats(self, top: int = 20) -> ReviewStats:
        """Count reviews overall, recently, by project and by provider."""
        now = utcnow()
        model = ReviewRecord
        totals = select(
            func.count(),
            func.count().filter(model.created_at >= now - timedelta(days=1)),
            func.count().filter(model.created_at >= now - timedelta(days=7)),
            func.count().filter(model.email_sent.is_(True)),
            func.min(model.created_at),
            func.max(model.created_at),
        )
        row = (await self.session.execute(totals)).one()
        return ReviewStats(
            total=row[0],
            last_24h=row[1],
            last_7d=row[2],
            email_sent=row[3],
            oldest=row[4],
            newest=row[5],
            by_project=await self._count_by(model.project_key, top),
            by_provider=await self._count_by(model.llm_provider, top),
        )

    async def _count_by(self, column: Any, top: int) -> dict[str, int]:
        """Count reviews per value of ``column``, the ``top`` largest."""
        query = (
            select(column, func.count().label("n"))
            .group_by(column)
            .order_by(func.count().desc(), column)
            .limit(top)
        )
        rows = (await self.session.execute(query)).all()
        return {str(value) if value is not None else "": n for value, n in rows}

    async def delete_all(self) -> int:
        """Delete every review; return how many there were."""
        result = await self.session.execute(delete(ReviewRecord))
        return int(getattr(result, "rowcount", 0) or 0)


class FailureLogRepository:
    """Read and write review_failure_logs."""

    def __init__(self, session: AsyncSession) -> None:
        self.session = session

    async def add(self, record: ReviewFailureLog) -> ReviewFailureLog:
        """Store a new failure log and return it with its id."""
        self.session.add(record)
        await self.session.flush()
        return record

    async def get(self, failure_id: int) -> ReviewFailureLog:
        """Return one failure log; raise RecordNotFound when there is none."""
        record = await self.session.get(ReviewFailureLog, failure_id)
        if record is None:
            raise RecordNotFound(f"failure log {failure_id} not found")
        return record

    async def list(
        self, filters: FailureFilter, request: PageRequest
    ) -> Page[ReviewFailureLog]:
        """Return one page of failure logs matching ``filters``, newest first."""
        query = select(ReviewFailureLog)
        conditions = filters.conditions()
        return await fetch_page(
            self.session, query, ReviewFailureLog, conditions, request
        )

    async def resolve(self, failure_id: int, notes: str | None) -> ReviewFailureLog:
        """Mark a failure resolved with ``notes``; resolving twice keeps both notes."""
        record = await self.get(failure_id)
        if notes:
            previous = record.resolution_notes
            record.resolution_notes = f"{previous}\n{notes}" if previous else notes
        record.resolved = True
        await self.session.flush()
        return record

    async def stats(self) -> FailureStats:
        """Count failure logs, and unresolved ones by stage and by error type."""
        model = ReviewFailureLog
        open_ = model.resolved.is_(False)
        totals = select(func.count(), func.count().filter(open_))
        total, unresolved = (await self.session.execute(totals)).one()
        by_stage = select(model.failure_stage, func.count()).where(open_)
        stage_rows = await self.session.execute(by_stage.group_by(model.failure_stage))
        by_error = (
            select(model.failure_stage, model.error_type, func.count())
            .where(open_)
            .group_by(model.failure_stage, model.error_type)
            .order_by(func.count().desc())
        )
        error_rows = await self.session.execute(by_error)
        return FailureStats(
            total=total,
            unresolved=unresolved,
            unresolved_by_stage=dict(stage_rows.all()),
            unresolved_by_error=[(s, e, n) for s, e, n in error_rows.all()],
        )

    async def delete_all(self) -> int:
        """Delete every failure log; return how many there were."""
        result = await self.session.execute(delete(ReviewFailureLog).where(true()))
        return int(getattr(result, "rowcount", 0) or 0)
