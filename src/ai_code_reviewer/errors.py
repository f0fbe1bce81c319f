"""The exceptions of ai-code-reviewer, all under one root.

ReviewerError
 ├── ConfigError             a setting is missing or wrong; fix the configuration
 ├── RecordNotFound          a review, failure log or job id that does not exist
 ├── InvalidRequest          input the caller can correct
 └── DatabaseError           the database cannot be used as it is
      ├── SchemaAheadError   the database was migrated by a newer release
      └── InvalidBackupError a file offered for restore is not one of our backups

Callers catch the class they can act on; the API turns each into one HTTP
answer in a single handler (``api/errors.py``).
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


class DatabaseError(ReviewerError):
    """The database cannot be used as it is."""


class SchemaAheadError(DatabaseError):
    """The database carries a schema revision this release does not know."""


class InvalidBackupError(DatabaseError):
    """A file offered for restore is not a database with our schema."""
