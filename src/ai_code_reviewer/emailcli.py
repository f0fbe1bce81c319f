"""The ``email`` command group: send a test message, preview a review's email.

``email test`` uses the configured transport (SMTP_HOST, or the outbox
folder) and prints what became of the message; ``email preview`` renders a
stored review's HTML part from the database of the settings. An error ends
the command with one sentence on stderr and exit code 2.
"""

from __future__ import annotations

import asyncio
from datetime import UTC, datetime
from pathlib import Path

import click
from sqlalchemy.ext.asyncio import AsyncSession

from ai_code_reviewer.api.db.models import ReviewJob, ReviewRecord
from ai_code_reviewer.api.jobs.pipeline import message_of
from ai_code_reviewer.errors import InvalidRequest, RecordNotFound
from ai_code_reviewer.jobcli import in_session
from ai_code_reviewer.notify.base import Delivery
from ai_code_reviewer.notify.factory import build_transport, email_options
from ai_code_reviewer.notify.message import build_test_email, render_html
from ai_code_reviewer.notify.recipients import domain_allowed, normalize_address
from ai_code_reviewer.settings import Settings, load_settings


@click.group()
def email() -> None:
    """Send a test email, or preview the email of a stored review."""


@email.command("test")
@click.option("--to", "address", required=True, help="Where to send the test message.")
def test_message(address: str) -> None:
    """Send a test message to ADDRESS and print what the server said."""
    delivery = asyncio.run(send_test_message(load_settings(), address))
    click.echo(f"{delivery.status}: {delivery.detail}")


@email.command()
@click.argument("review_id", type=click.IntRange(min=1))
@click.option(
    "--output",
    type=click.Path(dir_okay=False, path_type=Path),
    default=None,
    help="Write the HTML to this file instead of standard output.",
)
def preview(review_id: int, output: Path | None) -> None:
    """Render the HTML email of review REVIEW_ID."""
    settings = load_settings()
    html = in_session(lambda session: review_html(session, settings, review_id))
    if output is None:
        click.echo(html, nl=False)
        return
    output.write_text(html, encoding="utf-8")
    click.echo(f"Wrote the email of review {review_id} to {output}.")


async def send_test_message(settings: Settings, address: str) -> Delivery:
    """Send the test message to ``address`` with the configured transport.

    Raises:
        InvalidRequest: the address is malformed or outside EMAIL_ALLOWED_DOMAINS.
    """
    bare = normalize_address(address)
    if bare is None:
        raise InvalidRequest(f"{address!r} is not an email address")
    if not domain_allowed(bare, settings.allowed_domains):
        raise InvalidRequest(f"{bare} is outside EMAIL_ALLOWED_DOMAINS")
    options = email_options(settings)
    message = build_test_email(bare, options, datetime.now(UTC))
    return await build_transport(settings).deliver_email(message, (bare,))


async def review_html(session: AsyncSession, settings: Settings, review_id: int) -> str:
    """Return the HTML part of the stored review's email."""
    record = await session.get(ReviewRecord, review_id)
    if record is None:
        raise RecordNotFound(f"there is no review {review_id}")
    job = await session.get(ReviewJob, record.job_id) if record.job_id else None
    url = job.payload.get("url") if job is not None else None
    return render_html(message_of(record, url), email_options(settings))
