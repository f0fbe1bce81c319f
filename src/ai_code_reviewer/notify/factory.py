"""Build the notifier the settings describe: SMTP when a host is set, else outbox."""

from __future__ import annotations

import ssl

from ai_code_reviewer.errors import ConfigError
from ai_code_reviewer.notify.base import Notifier, Transport
from ai_code_reviewer.notify.message import EmailOptions
from ai_code_reviewer.notify.outbox import OutboxNotifier
from ai_code_reviewer.notify.policy import PolicyNotifier
from ai_code_reviewer.notify.recipients import RecipientPolicy
from ai_code_reviewer.notify.smtp import SmtpConfig, SmtpNotifier, make_tls_context
from ai_code_reviewer.settings import Settings


def build_notifier(settings: Settings) -> Notifier:
    """Return the transport of the settings behind the recipient policy."""
    return PolicyNotifier(
        recipient_policy(settings),
        build_transport(settings),
        opt_out_file=settings.email_opt_out_file,
    )


def build_transport(settings: Settings) -> Transport:
    """Return the SMTP sender when SMTP_HOST is set, else the outbox writer."""
    options = email_options(settings)
    if not settings.smtp_host:
        return OutboxNotifier(settings.email_outbox_dir, options)
    return SmtpNotifier(smtp_config(settings), options)


def email_options(settings: Settings) -> EmailOptions:
    """Return the sender, Reply-To and opt-out page of every email."""
    return EmailOptions(
        sender=settings.email_from,
        reply_to=settings.email_reply_to,
        unsubscribe_url=settings.email_unsubscribe_url,
    )


def recipient_policy(settings: Settings) -> RecipientPolicy:
    """Return who gets emails, and when, as the settings say."""
    return RecipientPolicy(
        email_on=settings.email_on,
        min_severity=settings.email_min_severity,
        include_reviewers=settings.email_reviewers,
        cc=settings.cc_addresses,
        allowed_domains=settings.allowed_domains,
    )


def smtp_config(settings: Settings) -> SmtpConfig:
    """Return how to reach SMTP_HOST; ConfigError when SMTP_CA_BUNDLE is unusable."""
    if not settings.smtp_host:
        raise ConfigError("SMTP_HOST is not set")
    password = settings.smtp_password
    return SmtpConfig(
        host=settings.smtp_host,
        port=settings.smtp_port,
        security=settings.smtp_security,
        username=settings.smtp_username,
        password=password.get_secret_value() if password else None,
        timeout=settings.smtp_timeout,
        tls_context=_tls_context(settings),
    )


def _tls_context(settings: Settings) -> ssl.SSLContext | None:
    """Return the TLS context of SMTP_VERIFY_TLS and SMTP_CA_BUNDLE."""
    if settings.smtp_security == "none":
        return None
    bundle = settings.smtp_ca_bundle
    try:
        return make_tls_context(
            settings.smtp_verify_tls, str(bundle) if bundle else None
        )
    except (OSError, ssl.SSLError) as error:
        raise ConfigError(f"SMTP_CA_BUNDLE {bundle} cannot be used: {error}") from error
