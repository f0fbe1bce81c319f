"""The ``ai-code-reviewer db`` command group (being written)."""

from __future__ import annotations

import click


@click.group()
def db() -> None:
    """Create, inspect, back up and restore the database."""
