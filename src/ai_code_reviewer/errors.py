"""The exceptions of ai-code-reviewer, all under one root.

ReviewerError
 ├── ConfigError             a setting is missing or wrong; fix the configuration
 ├── RecordNotFound          a review, failure log or job id that does not exist
 ├── InvalidRequest          input the caller can correct
 │    ├── PayloadTooLarge    a body over its size limit
 │    └── Unauthorized       a webhook without a valid signature
 ├── Conflict                the request does not fit the record's state
 ├── InvalidDiff             text that is not a unified diff (permanent)
 ├── TransientError          worth trying again later (``retry_after`` seconds)
 ├── GitHostError            the Git host refused or failed
 │    ├── NotFound           no such repository, commit or pull request
 │    └── RateLimited        429 (also a TransientError)
 ├── EmailError              the mail server refused a message (5xx, TLS, AUTH)
 ├── LLMError                the model refused or failed
 │    ├── ContextTooLong     the prompt does not fit the model's context
 │    └── BudgetExhausted    the project spent its daily model tokens
 └── DatabaseError           the database cannot be used as it is
      ├── SchemaAheadError   the database was migrated by a newer release
      └── InvalidBackupError a file offered for restore is not one of our backups

Callers catch the class they can act on; the API turns each into one HTTP
answer in a single handler (``api/errors.py``); the job worker retries a
TransientError with backoff and gives up at once on any other ReviewerError.
"""

from __future__ import annotations


class ReviewerError(Exception):
    """Root of every error that ai-code-reviewer raises on purpose."""


class ConfigError(ReviewerError):
    """A setting is missing, malformed or inconsistent."""


class RecordNotFound(ReviewerError):
    """A record asked for by id does not exist."""


class InvalidRequest(ReviewerError):
    """The caller's input cannot be used; the message says why."""


class PayloadTooLarge(InvalidRequest):
    """A request body is larger than its limit."""


class Unauthorized(InvalidRequest):
    """A request lacks valid credentials (a webhook's signature)."""


class Conflict(ReviewerError):
    """The request does not fit the current state of the record."""


class InvalidDiff(ReviewerError):
    """Text offered as a diff is not a unified diff."""


class TransientError(ReviewerError):
    """A failure that may pass: try again after ``retry_after`` seconds if given."""

    def __init__(self, message: str, retry_after: float | None = None) -> None:
        super().__init__(message)
        self.retry_after = retry_after


class GitHostError(ReviewerError):
    """The Git host answered with an error or could not be used."""


class NotFound(GitHostError):
    """The repository, commit or pull request does not exist on the Git host."""


class RateLimited(GitHostError, TransientError):
    """The Git host asked us to slow down (HTTP 429)."""


class EmailError(ReviewerError):
    """The mail server refused the message for good, or cannot be used safely."""


class LLMError(ReviewerError):
    """The model answered with an error or could not be used."""


class ContextTooLong(LLMError):
    """The prompt does not fit the model's context window."""


class BudgetExhausted(LLMError):
    """The project spent its LLM_DAILY_TOKEN_BUDGET; no model call was made."""


class DatabaseError(ReviewerError):
    """The database cannot be used as it is."""


class SchemaAheadError(DatabaseError):
    """The database carries a schema revision this release does not know."""


class InvalidBackupError(DatabaseError):
    """A file offered for restore is not a database with our schema."""
