"""Bad input to the read API is refused with a message, never a server error.

Each test sends a table of requests to one application and collects every
answer that is not the expected refusal, so that one run names them all.
"""

from __future__ import annotations

from typing import Any

import httpx

from tests.conftest import FailureFactory, ReviewFactory

Case = tuple[str, dict[str, str]]

INT4_MAX = 2_147_483_647
LONG = "x" * 256
BAD_IDS = ["abc", "1.5", "0", "-1", str(INT4_MAX + 1), "9" * 40]
BAD_PAGING: list[dict[str, str]] = [
    {"limit": "0"},
    {"limit": "-5"},
    {"limit": "501"},
    {"limit": "1" * 30},
    {"limit": "many"},
    {"offset": "-1"},
    {"cursor": "0"},
    {"cursor": str(INT4_MAX + 1)},
    {"include_total": "maybe"},
]
BAD_REVIEW_FILTERS: list[dict[str, str]] = [
    {"pr_id": "0"},
    {"pr_id": str(INT4_MAX + 1)},
    {"pr_id": "seven"},
    {"author_email": "not-an-email"},
    {"author_email": "ada lovelace@example.com"},
    {"author_email": "ada@example.com\x00"},
    {"author_email": "a" * 250 + "@example.com"},
    {"project_key": LONG},
    {"repo_slug": LONG},
    {"commit_id": LONG},
    {"project_key": "a\x00b"},
    {"repo_slug": "\x00"},
    {"commit_id": "c\x00"},
    {"since": "yesterday"},
    {"until": "2025-13-01"},
]
BAD_FAILURE_FILTERS: list[dict[str, str]] = [
    {"resolved": "maybe"},
    {"failure_stage": "x" * 101},
    {"event_type": "x" * 51},
    {"project_key": LONG},
    {"repo_slug": LONG},
    {"failure_stage": "llm\x00"},
    {"event_type": "\x00"},
]
SQL_LOOKING = [
    ("/api/reviews", {"project_key": "x' OR '1'='1"}),
    ("/api/reviews", {"repo_slug": "'; DROP TABLE review_records; --"}),
    ("/api/reviews", {"commit_id": "1 OR 1=1"}),
    ("/api/reviews", {"author_email": "x'--@example.com"}),
    ("/api/reviews/by-project/x' OR '1'='1", {}),
    ("/api/failures", {"failure_stage": "' OR 1=1 --"}),
    ("/api/failures", {"project_key": 'x" OR "1"="1'}),
]


def message_of(response: httpx.Response) -> str:
    """Return the message of a refusal: ours is a string, FastAPI's a list."""
    detail = response.json().get("detail")
    if isinstance(detail, list):
        return "; ".join(str(error.get("msg", "")) for error in detail)
    return str(detail or "")


async def unexpected_answers(
    client: httpx.AsyncClient, cases: list[Case], status: int = 422
) -> list[str]:
    """Send each case; describe those not refused with ``status`` and a message."""
    problems = []
    for url, params in cases:
        response = await client.get(url, params=params)
        if response.status_code != status or not message_of(response):
            problems.append(f"{url} {params!r}: {response.status_code} {response.text}")
    return problems


async def test_malformed_ids_are_422(client: httpx.AsyncClient) -> None:
    """Ids that are not integers from 1 to 2147483647 are refused with 422."""
    cases: list[Case] = [
        (f"{base}/{bad}", {})
        for base in ("/api/reviews", "/api/failures")
        for bad in BAD_IDS
    ]

    problems = await unexpected_answers(client, cases)

    assert problems == []


async def test_largest_id_is_looked_up_and_not_found(
    client: httpx.AsyncClient,
) -> None:
    """The largest int4 id reaches the database and is answered 404, not 500."""
    review = await client.get(f"/api/reviews/{INT4_MAX}")
    failure = await client.get(f"/api/failures/{INT4_MAX}")

    assert review.status_code == 404
    assert review.json() == {"detail": f"review {INT4_MAX} not found"}
    assert failure.status_code == 404
    assert failure.json() == {"detail": f"failure log {INT4_MAX} not found"}


async def test_bad_paging_is_422_on_every_list(client: httpx.AsyncClient) -> None:
    """Out-of-range or malformed limit, offset, cursor and include_total are 422."""
    lists = [
        "/api/reviews",
        "/api/reviews/latest",
        "/api/reviews/by-project/PROJ",
        "/api/reviews/by-author/ada@example.com",
        "/api/failures",
    ]
    cases = [(url, params) for url in lists for params in BAD_PAGING]

    problems = await unexpected_answers(client, cases)

    assert problems == []


async def test_bad_review_filters_are_422(client: httpx.AsyncClient) -> None:
    """Malformed, too long or NUL-bearing review filters are refused with 422."""
    cases = [("/api/reviews", params) for params in BAD_REVIEW_FILTERS]

    problems = await unexpected_answers(client, cases)

    assert problems == []


async def test_bad_failure_filters_are_422(client: httpx.AsyncClient) -> None:
    """Malformed, too long or NUL-bearing failure filters are refused with 422."""
    cases = [("/api/failures", params) for params in BAD_FAILURE_FILTERS]

    problems = await unexpected_answers(client, cases)

    assert problems == []


async def test_bad_path_values_are_422(client: httpx.AsyncClient) -> None:
    """A malformed email, a too long project key or a NUL in the path is 422."""
    cases: list[Case] = [
        ("/api/reviews/by-author/not-an-email", {}),
        ("/api/reviews/by-author/ada@@example.com", {}),
        ("/api/reviews/by-author/" + "a" * 250 + "@example.com", {}),
        ("/api/reviews/by-author/ada%00@example.com", {}),
        ("/api/reviews/by-project/" + LONG, {}),
        ("/api/reviews/by-project/PR%00J", {}),
    ]

    problems = await unexpected_answers(client, cases)

    assert problems == []


async def test_refusals_explain_themselves(client: httpx.AsyncClient) -> None:
    """The refusals the service words itself say what to do instead."""
    deep = await client.get("/api/reviews", params={"offset": "10001"})
    both = await client.get("/api/failures", params={"cursor": "5", "offset": "5"})
    backwards = await client.get(
        "/api/reviews", params={"since": "2025-02-01", "until": "2025-01-01T00:00Z"}
    )
    email = await client.get("/api/reviews", params={"author_email": "ada"})

    assert deep.status_code == 422
    assert "cursor" in message_of(deep)
    assert both.status_code == 422
    assert message_of(both) == "give either cursor or offset, not both"
    assert backwards.status_code == 422
    assert "later than until" in message_of(backwards)
    assert email.status_code == 422
    assert "email address" in message_of(email)


async def test_dates_beyond_utc_range_are_422(client: httpx.AsyncClient) -> None:
    """A date that overflows once converted to UTC is refused, not a crash."""
    cases: list[Case] = [
        ("/api/reviews", {"since": "0001-01-01T00:00:00+01:00"}),
        ("/api/reviews", {"until": "9999-12-31T23:59:59-01:00"}),
    ]

    problems = await unexpected_answers(client, cases)

    assert problems == []


async def test_sql_looking_values_are_plain_values(
    client: httpx.AsyncClient,
    make_review: ReviewFactory,
    make_failure: FailureFactory,
) -> None:
    """Strings shaped like SQL match nothing and harm nothing: 200 and no items."""
    await make_review()
    await make_failure()
    answers: list[tuple[int, Any]] = []

    for url, params in SQL_LOOKING:
        response = await client.get(url, params=params)
        answers.append((response.status_code, response.json()["items"]))
    after = await client.get("/api/reviews/latest")

    assert answers == [(200, [])] * len(SQL_LOOKING)
    assert len(after.json()["items"]) == 1
