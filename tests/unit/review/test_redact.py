"""Secrets masked with their kind and line; ordinary text, ids and checksums kept."""

from __future__ import annotations

import pytest

from ai_code_reviewer.review.redact import Redaction, Secret, redact, redact_mapping

# The secrets are made up, and assembled at run time so that secret scanners
# (the built-in reviewer's included) do not flag this file.
KEY_BODY = "MIIEowIBAAKCAQEAu1SU1LfVLPHCozMxH2Mo4lgOEePzNm0tRgeLezV6ffAt0gun"
KEY_BLOCK = "\n".join(
    [
        "-----BEGIN RSA " + "PRIVATE KEY-----",
        KEY_BODY,
        "VTLw7onLRnrq0/IzW7yWR7QkrmBL7jTKEn5u+qKhbwKfBstIs+bMY2Zkp18gnTxK",
        "-----END RSA " + "PRIVATE KEY-----",
    ]
)
OPENSSH_BODY = "b3BlbnNzaC1rZXktdjEAAAAABG5vbmUAAAAEbm9uZQAAAAAAAAABAAAAMwAAAAtz"
AWS_KEY = "AKIA" + "QX7RZ2M4KD9PLW3N"
GITHUB_PAT = "ghp_" + "R7tK2mQ9xV4bN8cL1zP6wS3yH5jD0fG2aE4u"
GITHUB_OAUTH = "gho_" + "Lw3Nq8Zt5Vx1Rb7Mk4Pc9Hs2Jd6Fg0Ya3Tu5"
GITHUB_APP = "ghs_" + "Kd8Fw2Lq6Mz0Xn4Vb9Tr3Hp7Js1Gc5Ya2Ue8"
GITHUB_FINE = "github_pat_" + "11AB3CDEF0gH7iJ2kL5mN8_pQ4rS9tU6vW1xY3zA0bC7dE2fG5hJ8kL"
SLACK = "xoxb-" + "2048193847561-5820394857163-Qw8Er5Ty2Ui9Op6As3Df0Gh"
BITBUCKET = "BBDC-" + "NzQ2MTk4MzUwODQ1OkqS3vB8xN1mR7tY2wP9sL4jH6gF"
JWT = ".".join(
    [
        "eyJ" + "hbGciOiJIUzI1NiJ9",
        "eyJ" + "zdWIiOiIxMjM0NTY3ODkwIn0",
        "dozjgNryP4J3jVmNHl0w5N_XgL0n3I9PlFUP0THsR8U",
    ]
)
RANDOM_BASE64 = "q8Zk3vB1xN7mR2tY6wP0sL4jH9gF5dC3"
RANDOM_HEX = "9c1f5e0b7a2d4c8e6f3a1b9d7e5c2a04"
SHA = "3b18e512dbabc7c4f8a1e9d2b6f0c5a7e4d1b8c2"

SECRETS = [
    ("private_key", KEY_BLOCK, KEY_BODY),
    (
        "private_key",
        "+-----BEGIN OPENSSH " + f"PRIVATE KEY-----\n+{OPENSSH_BODY}",
        OPENSSH_BODY,
    ),
    ("aws_access_key_id", f"aws_key_id = {AWS_KEY}", AWS_KEY),
    ("github_token", f"GITHUB_AUTH={GITHUB_PAT}", GITHUB_PAT),
    ("github_token", f"oauth: {GITHUB_OAUTH}", GITHUB_OAUTH),
    ("github_token", f"client.login({GITHUB_APP!r})", GITHUB_APP),
    ("github_token", f"  pat: {GITHUB_FINE}", GITHUB_FINE),
    ("slack_token", f"SLACK_HOOK = '{SLACK}'", SLACK),
    ("atlassian_token", f"bitbucket.auth({BITBUCKET!r})", BITBUCKET),
    ("jwt", f"session = {JWT}", JWT),
    (
        "auth_header",
        "curl -H 'Authorization: Bearer Zq4mW8xL2vR7tY1k' url",
        "Zq4mW8xL2vR7tY1k",
    ),
    ("auth_header", '{"Authorization": "Basic YWRtaW46czNjcjN0"}', "YWRtaW46czNjcjN0"),
    ("url_password", "DB_URL=postgresql://app:Wq8vZt3Lp@db:5432/app", "Wq8vZt3Lp"),
    ("secret_assignment", 'password = "Tr0ub4dor&3"', "Tr0ub4dor&3"),
    ("secret_assignment", "  db_password: s3cr3t-Vault-9", "s3cr3t-Vault-9"),
    ("secret_assignment", '"client_secret": "9f8e7d6c-5b4a"', "9f8e7d6c-5b4a"),
    ("secret_assignment", "export API_KEY=k3y-for-staging", "k3y-for-staging"),
    ("secret_assignment", 'secret_key: str = "dj4ng0-insecure"', "dj4ng0-insecure"),
    ("secret_assignment", "'passwd' => 'letmein42'", "letmein42"),
    ("secret_assignment", 'token := "tk_live_93jd8"', "tk_live_93jd8"),
    ("secret_assignment", "X-Api-Key: 7hG2kL9pQ", "7hG2kL9pQ"),
    ("high_entropy", f'const SEED = "{RANDOM_BASE64}";', RANDOM_BASE64),
    ("high_entropy", f"seed = {RANDOM_HEX}", RANDOM_HEX),
    ("high_entropy", f"reverts {SHA}", SHA),
]


@pytest.mark.parametrize(("kind", "text", "value"), SECRETS)
def test_secret_is_masked_and_recorded_by_kind_and_line(
    kind: str, text: str, value: str
) -> None:
    """The secret's value is gone from the text; its kind and line are recorded."""
    redaction = redact(f"first line\n{text}\nlast line")

    assert value not in redaction.text
    assert f"[REDACTED:{kind}]" in redaction.text
    assert redaction.text.startswith("first line\n")
    assert redaction.text.endswith("\nlast line")
    assert redaction.found == (Secret(kind, 2),)


def test_url_password_keeps_the_user_and_host() -> None:
    """Only the password of a URL is masked."""
    redaction = redact("postgresql://app:Wq8vZt3Lp@db:5432/app")

    assert redaction.text == "postgresql://app:[REDACTED:url_password]@db:5432/app"


def test_several_secrets_are_found_in_text_order() -> None:
    """Each secret of a multi-line text is recorded on its own line, in order."""
    text = f"a = 1\npassword = 'hunter42'\n\n{KEY_BLOCK}\ntoken: {GITHUB_PAT}\n"

    redaction = redact(text)

    assert redaction.found == (
        Secret("secret_assignment", 2),
        Secret("private_key", 4),
        Secret("github_token", 8),
    )
    assert redaction.text.splitlines()[0] == "a = 1"


ORDINARY = [
    f"index {SHA}..{SHA[::-1]} 100644",
    f"From {SHA} Mon Sep 17 00:00:00 2001",
    f"commit {SHA}",
    f"uses: actions/checkout@{SHA}",
    f'  "integrity": "sha512-{RANDOM_BASE64}{RANDOM_BASE64}==",',
    f'hash = "sha256:{RANDOM_HEX}{RANDOM_HEX}"',
    f'checksum = "{RANDOM_HEX}{RANDOM_HEX}"',
    "token_count = 5",
    "max_tokens = 4096",
    "password = get_password()",
    "password: str",
    "connect(password=password, user=user)",
    "token = settings.GITHUB_TOKEN",
    "api_key: ${API_KEY}",
    'password = ""',
    "password = '<your password>'",
    'labels = {"password": "Password"}',
    'if token == "abc":',
    "export TOKEN=$(cat /run/secrets/token)",
    'url = f"postgresql://{user}:{password}@{host}/db"',
    "Authorization: Bearer $TOKEN",
    "WEBHOOK_SECRET=\n# Largest webhook body accepted, in bytes (2 MiB).",
    "DATABASE_URL=postgresql+asyncpg://user:pass@localhost/ai_code_reviewer",
    'password = "PGPASSWORD=<password> " if target.password else ""',
    "test_parse_unified_diff_bytes_with_latin1_data_2",
    "src/ai_code_reviewer/api/db/20250107_0001_initial_schema.py",
    "123e4567-e89b-12d3-a456-426614174000",
    "0000000000000000000000000000000000000a1",
    f"GET https://git.example.com/rest/api/1.0/projects/PROJ/repos/api/commits/{SHA}",
]


@pytest.mark.parametrize("text", ORDINARY)
def test_ordinary_text_is_left_alone(text: str) -> None:
    """Code, git ids, checksums, identifiers and placeholders are not secrets."""
    assert redact(text) == Redaction(text, ())


def test_redact_mapping_masks_fields_and_strings_deeply() -> None:
    """Secret-named fields are masked whole, other strings by the text rules."""
    payload = {
        "stage": "fetch_diff",
        "headers": {"Authorization": "Bearer Zq4mW8xL2vR7tY1k", "Accept": "json"},
        "config": [{"db_password": "hunter42", "retries": 3}],
        "error": f"login failed with {GITHUB_PAT}",
        "api_key": None,
        "tries": (1, "token=abc123x"),
    }

    masked = redact_mapping(payload)

    assert masked == {
        "stage": "fetch_diff",
        "headers": {"Authorization": "[REDACTED:secret_assignment]", "Accept": "json"},
        "config": [{"db_password": "[REDACTED:secret_assignment]", "retries": 3}],
        "error": "login failed with [REDACTED:github_token]",
        "api_key": None,
        "tries": (1, "token=[REDACTED:secret_assignment]"),
    }
    assert payload["config"] == [{"db_password": "hunter42", "retries": 3}]


def test_redact_mapping_keeps_commit_ids_and_digests() -> None:
    """A value that is exactly a git object id or SHA-256 digest is kept."""
    payload = {"commit_id": SHA, "diff": {"sha256": RANDOM_HEX * 2}}

    assert redact_mapping(payload) == payload


def test_redact_mapping_passes_other_values_through() -> None:
    """Numbers, booleans and None outside secret fields come back unchanged."""
    assert redact_mapping([1, 2.5, True, None]) == [1, 2.5, True, None]
