"""A model review end to end, over real HTTP to a fake OpenAI-compatible server.

The diff plants real-looking secrets and one defect. Through the command line
and through the service, no secret may reach the model, the model's finding
must land on the defect's line, and usage and cost must be recorded.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from collections.abc import AsyncIterator, Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest

from ai_code_reviewer.api.app import create_app
from tests.conftest import make_settings
from tests.modelservers import Answer, FakeModelServer, serving

COMMAND = str(Path(sys.executable).parent / "ai-code-reviewer")
API_KEY = "sk-e2e-9c1b7a3f5d2e"
MODEL = "gpt-4o-mini"  # priced in llm/models.toml: $0.15 and $0.60 a million
AWS_ID = "AKIAZ7QXW3NRT5PLK2VD"
AWS_SECRET = "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"
GITHUB_TOKEN = "ghp_R7tK2mQ9vX4bN8cJ1wL5sD3fH6gP0aZ9yE2u"
DB_PASSWORD = "Tr0ub4dor-and-3-horses"
KEY_BODY = "MIIEowIBAAKCAQEA7yWq3kB9xYtV2mR8nL4cP6sD1fH0gJ5aZ3uE9wQ2vT7bN4cJ"
SECRETS = (AWS_ID, AWS_SECRET, GITHUB_TOKEN, DB_PASSWORD, KEY_BODY)

DIFF = f"""diff --git a/app/run.py b/app/run.py
new file mode 100644
index 0000000..1111111
--- /dev/null
+++ b/app/run.py
@@ -0,0 +1,9 @@
+import os
+
+AWS_ACCESS_KEY_ID = "{AWS_ID}"
+AWS_SECRET_ACCESS_KEY = "{AWS_SECRET}"
+DATABASE_URL = "postgresql://app:{DB_PASSWORD}@db.internal/app"
+
+
+def remove(name):
+    os.system("rm -rf " + name)
diff --git a/deploy/key.pem b/deploy/key.pem
new file mode 100644
index 0000000..2222222
--- /dev/null
+++ b/deploy/key.pem
@@ -0,0 +1,3 @@
+-----BEGIN RSA PRIVATE KEY-----
+{KEY_BODY}
+-----END RSA PRIVATE KEY-----
diff --git a/ci.sh b/ci.sh
new file mode 100644
index 0000000..3333333
--- /dev/null
+++ b/ci.sh
@@ -0,0 +1,2 @@
+#!/bin/sh
+curl -H "Authorization: token {GITHUB_TOKEN}" https://api.github.com/user
"""
SHELL_INJECTION = {
    "path": "app/run.py",
    "line": 9,
    "end_line": None,
    "severity": "critical",
    "category": "security",
    "title": "Shell command built from input",
    "body": "name reaches the shell unquoted.",
    "suggestion": "shutil.rmtree(name)",
}
OFF_THE_DIFF = {**SHELL_INJECTION, "line": 400, "title": "Something far away"}


def model_answer() -> Answer:
    """Return the model's answer: one finding on the defect, one off the diff."""
    return Answer(
        summary="The change adds a deletion helper and credentials.",
        findings=(SHELL_INJECTION, OFF_THE_DIFF),
        prompt_tokens=1000,
        completion_tokens=200,
    )


@pytest.fixture
def model_server() -> Iterator[FakeModelServer]:
    """Yield a fake OpenAI-compatible server that answers every call the same."""
    with serving("openai") as server:
        server.script.extend([model_answer()] * 5)
        yield server


def sent_to_model(server: FakeModelServer) -> str:
    """Return every request body the model server received, as one text."""
    return "\n".join(json.dumps(request.body) for request in server.requests)


def assert_no_secret_sent(server: FakeModelServer) -> None:
    """Fail when any planted secret, or a telling part of one, left for the model."""
    sent = sent_to_model(server)
    assert server.requests, "the model was never asked"
    for secret in SECRETS:
        assert secret not in sent
        assert secret[4:16] not in sent
    assert "[REDACTED:" in sent


def cli_env(tmp_path: Path, base_url: str) -> dict[str, str]:
    """Return the environment of a user pointing the command at the fake model."""
    env = {
        k: v for k, v in os.environ.items() if not k.startswith(("LLM_", "DATABASE"))
    }
    env.update(
        HOME=str(tmp_path),
        LLM_PROVIDER="openai",
        LLM_MODEL=MODEL,
        LLM_BASE_URL=f"{base_url}/v1",
        LLM_API_KEY=API_KEY,
        LLM_TIMEOUT="20",
    )
    return env


def test_cli_review_masks_secrets_and_places_findings(
    model_server: FakeModelServer, tmp_path: Path
) -> None:
    """ai-code-reviewer review --diff: secrets masked, findings placed, cost known."""
    patch = tmp_path / "change.diff"
    patch.write_text(DIFF)

    result = subprocess.run(
        [COMMAND, "review", "--diff", str(patch), "--format", "json"],
        env=cli_env(tmp_path, model_server.base_url),
        cwd=tmp_path,
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    review = json.loads(result.stdout)
    places = {(f["path"], f["line"], f["title"]) for f in review["findings"]}

    assert result.returncode == 0, result.stderr
    assert_no_secret_sent(model_server)
    assert API_KEY not in result.stdout + result.stderr
    assert ("app/run.py", 9, "Shell command built from input") in places
    assert ("app/run.py", None, "Something far away") in places
    secret_lines = {
        (f["path"], f["line"]) for f in review["findings"] if "Secret" in f["title"]
    }
    assert {("app/run.py", 3), ("app/run.py", 4), ("deploy/key.pem", 1)} <= (
        secret_lines
    )
    assert ("ci.sh", 2) in secret_lines
    assert (review["provider"], review["model"]) == ("openai", MODEL)
    calls = len(model_server.requests)
    assert review["usage"]["prompt_tokens"] == 1000 * calls
    assert review["usage"]["cost_usd"] == pytest.approx(calls * 0.00027)
    assert set(review["coverage"]["reviewed"]) == {
        "app/run.py",
        "deploy/key.pem",
        "ci.sh",
    }


@pytest.fixture
async def service(
    model_server: FakeModelServer, tmp_path: Path
) -> AsyncIterator[httpx.AsyncClient]:
    """Run the app with its own worker, reviewing with the fake model."""
    url = f"sqlite+aiosqlite:///{tmp_path / 'service.db'}"
    settings = make_settings(
        url,
        tmp_path,
        worker_concurrency=1,
        worker_poll_interval=0.05,
        llm_provider="openai",
        llm_model=MODEL,
        llm_base_url=f"{model_server.base_url}/v1",
        llm_api_key=API_KEY,
    )
    app = create_app(settings)
    async with app.router.lifespan_context(app):
        transport = httpx.ASGITransport(app=app)
        async with httpx.AsyncClient(transport=transport, base_url="http://t") as c:
            yield c


async def reviewed(client: httpx.AsyncClient) -> dict[str, Any]:
    """Upload the diff, wait for its job, and return the stored review."""
    params = {"project_key": "PAY", "repo_slug": "ledger"}
    params["author_email"] = "ada@example.com"
    accepted = await client.post(
        "/api/reviews/diff",
        content=DIFF,
        params=params,
        headers={"Content-Type": "text/x-diff"},
    )
    job_id = accepted.json()["job_id"]
    job = (await client.get(f"/api/jobs/{job_id}", params={"wait": 30})).json()
    assert job["status"] == "succeeded", job
    review: dict[str, Any] = (
        await client.get(f"/api/reviews/{job['review_id']}")
    ).json()
    return review


async def test_service_review_stores_usage_and_keeps_secrets_home(
    service: httpx.AsyncClient, model_server: FakeModelServer, tmp_path: Path
) -> None:
    """The service's job: no secret sent, findings and tokens and cost stored."""
    review = await reviewed(service)
    metrics = (await service.get("/metrics")).text
    outbox = "".join(p.read_text() for p in (tmp_path / "outbox").glob("*.eml"))

    assert_no_secret_sent(model_server)
    calls = len(model_server.requests)
    assert (review["llm_provider"], review["llm_model"]) == ("openai", MODEL)
    assert (review["prompt_tokens"], review["completion_tokens"]) == (
        1000 * calls,
        200 * calls,
    )
    assert review["llm_cost_usd"] == pytest.approx(calls * 0.00027)
    lines = {(f["path"], f["line"]) for f in review["findings"]}
    assert ("app/run.py", 9) in lines
    assert 'model="gpt-4o-mini"' in metrics
    assert 'kind="prompt"' in metrics
    for secret in (*SECRETS, API_KEY):
        assert secret not in outbox
        assert secret not in review["review_feedback"]
