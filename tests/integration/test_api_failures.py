"""The /api/failures routes over real SQLite and PostgreSQL databases."""

from __future__ import annotations

from datetime import UTC, datetime

import httpx

from ai_code_reviewer.api.db.models import ReviewFailureLog
from tests.conftest import FailureFactory
from tests.integration.test_api_reviews import get_json, ids_of

COLUMNS = {column.name for column in ReviewFailureLog.__table__.columns}


async def test_list_gives_every_column_newest_first(
    client: httpx.AsyncClient, make_failure: FailureFactory
) -> None:
    """Failure logs are listed newest first, each with every column."""
    first = await make_failure(created_at=datetime(2025, 2, 1, 8, 0))
    second = await make_failure(retry_count=3, error_stacktrace="Traceback ...")

    body = await get_json(client, "/api/failures")

    assert ids_of(body) == [second.id, first.id]
    assert (body["limit"], body["next_cursor"], body["total"]) == (50, None, None)
    newest, oldest = body["items"]
    assert set(newest) == COLUMNS
    assert newest["retry_count"] == 3
    assert newest["error_stacktrace"] == "Traceback ..."
    assert newest["request_payload"] == {"eventKey": "repo:refs_changed"}
    assert oldest["created_at"] in ("2025-02-01T08:00:00Z", "2025-02-01T08:00:00+00:00")


async def test_get_failure_returns_every_column(
    client: httpx.AsyncClient, make_failure: FailureFactory
) -> None:
    """One failure log is answered with every column and a UTC timestamp."""
    failure = await make_failure(
        pr_id=12, resolved=True, resolution_notes="retried by hand"
    )

    body = await get_json(client, f"/api/failures/{failure.id}")

    assert set(body) == COLUMNS
    assert body["id"] == failure.id
    assert body["pr_id"] == 12
    assert body["resolved"] is True
    assert body["resolution_notes"] == "retried by hand"
    assert body["error_message"] == failure.error_message
    created = datetime.fromisoformat(body["created_at"])
    assert created == failure.created_at.replace(tzinfo=UTC)


async def test_get_missing_failure_is_404(client: httpx.AsyncClient) -> None:
    """An id with no failure log is answered 404 with a message naming it."""
    response = await client.get("/api/failures/31")

    assert response.status_code == 404
    assert response.json() == {"detail": "failure log 31 not found"}


async def test_each_filter_narrows(
    client: httpx.AsyncClient, make_failure: FailureFactory
) -> None:
    """Each filter of the failure list keeps only the logs with that value."""
    wanted = await make_failure(
        resolved=True,
        failure_stage="publish",
        event_type="manual",
        project_key="WEB",
        repo_slug="frontend",
    )
    await make_failure()
    filters = {
        "resolved": "true",
        "failure_stage": "publish",
        "event_type": "manual",
        "project_key": "WEB",
        "repo_slug": "frontend",
    }

    found = {
        name: ids_of(await get_json(client, "/api/failures", **{name: value}))
        for name, value in filters.items()
    }

    assert found == {name: [wanted.id] for name in filters}


async def test_unresolved_filter_leaves_out_resolved(
    client: httpx.AsyncClient, make_failure: FailureFactory
) -> None:
    """resolved=false lists only the failure logs still open."""
    open_ = await make_failure()
    await make_failure(resolved=True)

    body = await get_json(client, "/api/failures", resolved="false")

    assert ids_of(body) == [open_.id]


async def test_paging_by_cursor_offset_and_total(
    client: httpx.AsyncClient, make_failure: FailureFactory
) -> None:
    """Cursor and offset pages follow each other, and the total counts them all."""
    made = [await make_failure() for _ in range(5)]
    newest_first = [f.id for f in reversed(made)]

    first = await get_json(client, "/api/failures", limit=2, include_total="true")
    second = await get_json(client, "/api/failures", cursor=first["next_cursor"])
    skipped = await get_json(client, "/api/failures", offset=4)

    assert ids_of(first) == newest_first[:2]
    assert first["total"] == 5
    assert ids_of(second) == newest_first[2:]
    assert second["next_cursor"] is None
    assert ids_of(skipped) == newest_first[4:]


async def test_stats_count_unresolved_by_stage_and_error(
    client: httpx.AsyncClient, make_failure: FailureFactory
) -> None:
    """The stats count all logs, and the open ones by stage and by error type."""
    await make_failure()
    await make_failure()
    await make_failure(failure_stage="email", error_type="SMTPException")
    await make_failure(failure_stage="publish", resolved=True)

    body = await get_json(client, "/api/failures/stats")

    assert body["total"] == 4
    assert body["unresolved"] == 3
    assert body["unresolved_by_stage"] == {"llm_review": 2, "email": 1}
    assert body["unresolved_by_error"] == [
        {"failure_stage": "llm_review", "error_type": "TimeoutError", "count": 2},
        {"failure_stage": "email", "error_type": "SMTPException", "count": 1},
    ]
