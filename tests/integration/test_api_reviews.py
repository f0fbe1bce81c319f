"""The /api/reviews routes over real SQLite and PostgreSQL databases."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

import httpx

from ai_code_reviewer.api.db.models import ReviewRecord, utcnow
from tests.conftest import ReviewFactory

COLUMNS = {column.name for column in ReviewRecord.__table__.columns}
SUMMARY_FIELDS = COLUMNS - {"diff_content"}


async def get_json(client: httpx.AsyncClient, url: str, **params: Any) -> Any:
    """GET ``url`` and return its JSON body, failing on any status but 200."""
    response = await client.get(url, params=params)
    assert response.status_code == 200, response.text
    return response.json()


def ids_of(body: dict[str, Any]) -> list[int]:
    """Return the ids of a page's items, in order."""
    return [item["id"] for item in body["items"]]


async def test_latest_lists_newest_first_without_diff(
    client: httpx.AsyncClient, make_review: ReviewFactory
) -> None:
    """The latest reviews come newest first, in the envelope, without their diff."""
    made = [await make_review() for _ in range(3)]

    body = await get_json(client, "/api/reviews/latest")

    assert ids_of(body) == [r.id for r in reversed(made)]
    assert body["limit"] == 50
    assert body["next_cursor"] is None
    assert body["total"] is None
    assert set(body["items"][0]) == SUMMARY_FIELDS
    assert body["items"][0]["review_feedback"] == made[2].review_feedback


async def test_latest_honours_limit_and_gives_a_cursor(
    client: httpx.AsyncClient, make_review: ReviewFactory
) -> None:
    """A limit shorter than the list gives that many reviews and the next cursor."""
    made = [await make_review() for _ in range(3)]

    body = await get_json(client, "/api/reviews/latest", limit=2)

    assert ids_of(body) == [made[2].id, made[1].id]
    assert body["limit"] == 2
    assert body["next_cursor"] == made[1].id


async def test_get_review_returns_every_column_in_utc(
    client: httpx.AsyncClient, make_review: ReviewFactory
) -> None:
    """One review is answered with every column, the diff and a UTC timestamp."""
    stored = datetime(2025, 1, 7, 10, 30, 15, 123456)
    review = await make_review(
        created_at=stored, trigger_type="pull_request", pr_id=42, email_sent=True
    )

    body = await get_json(client, f"/api/reviews/{review.id}")

    assert set(body) == COLUMNS
    assert body["diff_content"] == review.diff_content
    assert body["pr_id"] == 42
    assert body["email_sent"] is True
    assert body["email_recipients"] == ["ada@example.com"]
    assert body["created_at"].endswith(("Z", "+00:00"))
    assert datetime.fromisoformat(body["created_at"]) == stored.replace(tzinfo=UTC)


async def test_get_missing_review_is_404(client: httpx.AsyncClient) -> None:
    """An id with no review is answered 404 with a message naming it."""
    response = await client.get("/api/reviews/999")

    assert response.status_code == 404
    assert response.json() == {"detail": "review 999 not found"}


async def test_by_project_lists_only_that_project(
    client: httpx.AsyncClient, make_review: ReviewFactory
) -> None:
    """Reviews by project leave out the other projects' reviews."""
    first = await make_review(project_key="WEB")
    await make_review(project_key="OPS")
    second = await make_review(project_key="WEB")

    body = await get_json(client, "/api/reviews/by-project/WEB")

    assert ids_of(body) == [second.id, first.id]


async def test_by_author_lists_only_that_author(
    client: httpx.AsyncClient, make_review: ReviewFactory
) -> None:
    """Reviews by author leave out the other authors' reviews."""
    await make_review(author_email="ada@example.com")
    bob = await make_review(author_email="bob@example.com")

    body = await get_json(client, "/api/reviews/by-author/bob@example.com")

    assert ids_of(body) == [bob.id]


async def test_each_list_filter_narrows(
    client: httpx.AsyncClient, make_review: ReviewFactory
) -> None:
    """Each filter of the review list keeps only the reviews with that value."""
    filters: dict[str, Any] = {
        "project_key": "WEB",
        "repo_slug": "frontend",
        "author_email": "bob@example.com",
        "commit_id": "c" * 40,
        "pr_id": 7,
    }
    await make_review(pr_id=8)
    wanted = await make_review(**filters)
    await make_review(pr_id=9)

    found = {
        name: ids_of(await get_json(client, "/api/reviews", **{name: value}))
        for name, value in filters.items()
    }

    assert found == {name: [wanted.id] for name in filters}


async def test_list_filters_combine(
    client: httpx.AsyncClient, make_review: ReviewFactory
) -> None:
    """Several filters together keep only the reviews matching all of them."""
    await make_review(project_key="WEB", repo_slug="backend")
    match = await make_review(project_key="WEB", repo_slug="frontend")
    await make_review(project_key="OPS", repo_slug="frontend")

    body = await get_json(
        client, "/api/reviews", project_key="WEB", repo_slug="frontend"
    )

    assert ids_of(body) == [match.id]


async def test_list_since_until_window_in_utc(
    client: httpx.AsyncClient, make_review: ReviewFactory
) -> None:
    """since is inclusive, until exclusive, and an offset is converted to UTC."""
    day = datetime(2025, 3, 1)
    made = [await make_review(created_at=day + timedelta(days=n)) for n in range(4)]

    naive = await get_json(
        client, "/api/reviews", since="2025-03-02T00:00:00", until="2025-03-04"
    )
    aware = await get_json(
        client,
        "/api/reviews",
        since="2025-03-02T02:00:00+02:00",
        until="2025-03-03T19:00:00-05:00",
    )

    assert ids_of(naive) == [made[2].id, made[1].id]
    assert ids_of(aware) == [made[2].id, made[1].id]


async def test_keyset_paging_walks_every_review_once(
    client: httpx.AsyncClient, make_review: ReviewFactory
) -> None:
    """Following next_cursor visits every review exactly once, newest first."""
    made = [await make_review() for _ in range(7)]
    seen: list[int] = []
    sizes: list[int] = []
    params: dict[str, Any] = {"limit": 3}

    while True:
        body = await get_json(client, "/api/reviews", **params)
        seen += ids_of(body)
        sizes.append(len(body["items"]))
        if body["next_cursor"] is None:
            break
        params["cursor"] = body["next_cursor"]

    assert seen == [r.id for r in reversed(made)]
    assert sizes == [3, 3, 1]


async def test_offset_paging_skips_rows(
    client: httpx.AsyncClient, make_review: ReviewFactory
) -> None:
    """An offset skips that many of the newest reviews."""
    made = [await make_review() for _ in range(5)]

    body = await get_json(client, "/api/reviews", offset=2, limit=2)

    assert ids_of(body) == [made[2].id, made[1].id]
    assert body["next_cursor"] == made[1].id


async def test_include_total_counts_matching_reviews(
    client: httpx.AsyncClient, make_review: ReviewFactory
) -> None:
    """include_total counts every matching review; without it no total is given."""
    for project in ("WEB", "WEB", "OPS", "WEB"):
        await make_review(project_key=project)

    counted = await get_json(
        client, "/api/reviews", project_key="WEB", limit=1, include_total="true"
    )
    uncounted = await get_json(client, "/api/reviews", project_key="WEB", limit=1)

    assert counted["total"] == 3
    assert len(counted["items"]) == 1
    assert uncounted["total"] is None


async def test_stats_count_reviews(
    client: httpx.AsyncClient, make_review: ReviewFactory
) -> None:
    """The stats count all, recent, emailed, per project and per provider."""
    now = utcnow()
    oldest = now - timedelta(days=30)
    await make_review(created_at=oldest, project_key="OPS")
    await make_review(created_at=now - timedelta(days=3), email_sent=True)
    await make_review(created_at=now, llm_provider="openai", email_sent=True)

    body = await get_json(client, "/api/reviews/stats")

    assert body["total"] == 3
    assert body["last_24h"] == 1
    assert body["last_7d"] == 2
    assert body["email_sent"] == 2
    assert body["by_project"] == {"PROJ": 2, "OPS": 1}
    assert body["by_provider"] == {"builtin": 2, "openai": 1}
    assert datetime.fromisoformat(body["oldest"]) == oldest.replace(tzinfo=UTC)
    assert datetime.fromisoformat(body["newest"]) == now.replace(tzinfo=UTC)


async def test_stats_of_no_review_are_zero(client: httpx.AsyncClient) -> None:
    """The stats of an empty table are zeros and no dates."""
    body = await get_json(client, "/api/reviews/stats")

    assert body["total"] == body["last_24h"] == body["email_sent"] == 0
    assert body["by_project"] == {}
    assert body["oldest"] is None
    assert body["newest"] is None
