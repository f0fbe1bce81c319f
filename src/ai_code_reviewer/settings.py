"""Read the service's configuration from the environment and ``.env``.

One ``Settings`` object is built at the edge (the CLI, ``api.main``) and
passed explicitly to whatever needs it.
"""

from __future__ import annotations

from pathlib import Path
from typing import Literal

from pydantic import Field, SecretStr, field_validator
from pydantic_settings import BaseSettings, SettingsConfigDict

DEFAULT_DATABASE_URL = "sqlite+aiosqlite:///./ai_code_reviewer.db"
SUPPORTED_DRIVERS = ("sqlite+aiosqlite", "postgresql+asyncpg")

LogLevel = Literal["DEBUG", "INFO", "WARNING", "ERROR", "CRITICAL"]
LogFormat = Literal["auto", "json", "text"]
LLMProvider = Literal["builtin", "openai", "azure", "ollama", "anthropic"]
SmtpSecurity = Literal["starttls", "tls", "none"]
EmailPolicy = Literal["always", "findings", "never"]
Severity = Literal["critical", "major", "minor", "info"]


class Settings(BaseSettings):
    """Hold every setting of the service; each field is one environment variable."""

    model_config = SettingsConfigDict(
        env_file=".env",
        env_file_encoding="utf-8",
        env_ignore_empty=True,
        extra="ignore",
    )

    database_url: str = Field(
        default=DEFAULT_DATABASE_URL,
        description="SQLAlchemy URL of the database (SQLite or PostgreSQL).",
    )
    database_echo: bool = Field(
        default=False, description="Log every SQL statement (debugging only)."
    )
    database_pool_size: int = Field(
        default=5, ge=1, le=100, description="Connections kept open (PostgreSQL)."
    )
    sqlite_busy_timeout_ms: int = Field(
        default=5000,
        ge=0,
        le=600_000,
        description="How long SQLite waits for a lock before giving up.",
    )
    host: str = Field(default="127.0.0.1", description="Address the API binds to.")
    port: int = Field(default=8000, ge=1, le=65535, description="Port of the API.")
    log_level: LogLevel = Field(default="INFO", description="Lowest level logged.")
    log_format: LogFormat = Field(
        default="auto",
        description="json (one object a line), text (key=value for people), or "
        "auto: text on a terminal, else json.",
    )
    retention_days: int | None = Field(
        default=None,
        ge=1,
        description="When set, delete reviews older than this many days, daily.",
    )
    backup_dir: Path = Field(
        default=Path("./backups"), description="Where database backups are written."
    )
    backup_keep: int = Field(
        default=10, ge=1, le=10_000, description="How many backups to keep."
    )

    worker_concurrency: int = Field(
        default=4,
        ge=0,
        le=256,
        description="Jobs the service's own worker runs at once; 0 runs none.",
    )
    worker_poll_interval: float = Field(
        default=1.0, gt=0, le=60, description="Seconds between looks for new jobs."
    )
    worker_shutdown_grace: float = Field(
        default=30.0,
        ge=0,
        le=3600,
        description="Seconds running jobs get to finish on shutdown before release.",
    )
    job_lease_seconds: float = Field(
        default=60.0,
        ge=1,
        le=3600,
        description="How long a claimed job stays locked without a renewal.",
    )
    job_max_attempts: int = Field(
        default=5, ge=1, le=100, description="Tries before a job is given up (dead)."
    )
    job_retry_base_seconds: float = Field(
        default=10.0, gt=0, le=3600, description="First retry delay; doubles each try."
    )
    job_retry_max_seconds: float = Field(
        default=900.0, gt=0, le=86_400, description="Longest delay between tries."
    )
    max_diff_bytes: int = Field(
        default=5 * 1024 * 1024,
        ge=1024,
        le=512 * 1024 * 1024,
        description="Largest diff accepted by POST /api/reviews/diff.",
    )

    llm_provider: LLMProvider = Field(
        default="builtin",
        description="Who reviews: builtin (offline rules, no model), openai (also "
        "any OpenAI-compatible server), azure, ollama or anthropic.",
    )
    llm_model: str | None = Field(
        default=None,
        description="Model name as the provider knows it (gpt-4o-mini, "
        "qwen2.5-coder:14b, claude-sonnet-4-5, an Azure deployment).",
    )
    llm_base_url: str | None = Field(
        default=None,
        description="Base URL of the model server (vLLM, LM Studio, llama.cpp, "
        "Ollama, an Azure endpoint); unset, the vendor's own.",
    )
    llm_api_key: SecretStr | None = Field(
        default=None, description="API key of the model server; never logged."
    )
    llm_api_version: str = Field(
        default="2024-10-21", description="API version sent to Azure OpenAI."
    )
    llm_timeout: float = Field(
        default=120.0, gt=0, le=3600, description="Seconds one model call may take."
    )
    llm_max_concurrency: int = Field(
        default=2, ge=1, le=64, description="Model calls of one review run at once."
    )
    llm_fallback_models: str | None = Field(
        default=None,
        description="Comma-separated models of the same provider tried in order "
        "when the main one fails.",
    )
    llm_verify_tls: bool = Field(
        default=True, description="Check the model server's TLS certificate."
    )
    llm_ca_bundle: Path | None = Field(
        default=None,
        description="PEM file of the CA that signed the model server's certificate.",
    )
    llm_context_tokens: int | None = Field(
        default=None,
        ge=2048,
        le=10_000_000,
        description="The model's context window in tokens; unset, the known "
        "model's own (llm/models.toml) or 8192.",
    )
    llm_max_output_tokens: int = Field(
        default=4096, ge=256, le=200_000, description="Room kept for each answer."
    )
    llm_prices: str | None = Field(
        default=None,
        description="JSON object of model: [input, output] US dollars per million "
        "tokens, over the shipped table (llm/models.toml).",
    )
    llm_daily_token_budget: int | None = Field(
        default=None,
        ge=1,
        description="Tokens one project may spend a day (UTC); when spent, "
        "reviews fail at llm_review with a recorded reason.",
    )
    review_ignore: str | None = Field(
        default=None,
        description="Comma-separated globs of files never reviewed, over the "
        "built-in list (lock, generated, minified, vendored, binary files).",
    )
    review_guidelines_file: Path | None = Field(
        default=None,
        description="Text or Markdown file of the team's guidelines, added to "
        "every prompt.",
    )

    webhook_secret: SecretStr | None = Field(
        default=None,
        description="Secret of the Git host's webhook; when set, unsigned "
        "deliveries are refused.",
    )
    webhook_max_bytes: int = Field(
        default=2 * 1024 * 1024,
        ge=1024,
        le=64 * 1024 * 1024,
        description="Largest webhook body accepted, in bytes.",
    )

    bitbucket_url: str | None = Field(
        default=None,
        description="Base URL of Bitbucket Data Center, e.g. "
        "https://bitbucket.example.com (with its context path, if any).",
    )
    bitbucket_token: SecretStr | None = Field(
        default=None,
        description="HTTP access token (Bearer) with repository read, and write "
        "to publish; never logged.",
    )
    bitbucket_verify_tls: bool = Field(
        default=True, description="Check Bitbucket's TLS certificate."
    )
    bitbucket_ca_bundle: Path | None = Field(
        default=None,
        description="PEM file of the CA that signed Bitbucket's certificate.",
    )
    github_url: str = Field(
        default="https://api.github.com",
        description="GitHub's REST API base (GitHub Enterprise Server: "
        "https://HOST/api/v3).",
    )
    github_token: SecretStr | None = Field(
        default=None,
        description="GitHub token with contents read and pull request write; "
        "unset, GitHub jobs cannot run.",
    )
    github_webhook_secret: SecretStr | None = Field(
        default=None,
        description="Secret of GitHub's webhook (X-Hub-Signature-256); unset, "
        "WEBHOOK_SECRET is used.",
    )
    github_verify_tls: bool = Field(
        default=True, description="Check GitHub's TLS certificate."
    )
    github_ca_bundle: Path | None = Field(
        default=None,
        description="PEM file of the CA that signed GitHub Enterprise's certificate.",
    )
    gitlab_url: str | None = Field(
        default=None, description="Base URL of GitLab, e.g. https://gitlab.example.com."
    )
    gitlab_token: SecretStr | None = Field(
        default=None, description="GitLab access token with the api scope."
    )
    gitlab_verify_tls: bool = Field(
        default=True, description="Check GitLab's TLS certificate."
    )
    gitlab_ca_bundle: Path | None = Field(
        default=None,
        description="PEM file of the CA that signed GitLab's certificate.",
    )
    gitlab_webhook_token: SecretStr | None = Field(
        default=None,
        description="Secret token of GitLab's webhook (X-Gitlab-Token); unset, "
        "WEBHOOK_SECRET is used.",
    )
    max_commits_per_push: int = Field(
        default=20,
        ge=1,
        le=1000,
        description="Commits of one push reviewed one by one, oldest first; the "
        "later ones are reviewed together as one range.",
    )
    review_branches: str | None = Field(
        default=None,
        description="Comma-separated branch globs whose pushes and pull request "
        "targets are reviewed; unset, all.",
    )
    review_projects: str | None = Field(
        default=None,
        description="Comma-separated project keys (or owners, namespaces) "
        "reviewed; unset, all.",
    )
    review_drafts: bool = Field(
        default=False, description="Also review draft pull requests."
    )
    review_commands: str = Field(
        default="@ai-review,/review",
        description="Comma-separated words that, opening a pull request comment, "
        "ask for a new review.",
    )
    githost_timeout: float = Field(
        default=30.0,
        gt=0,
        le=600,
        description="Seconds each Git host request may take.",
    )
    publish_pr_comment: bool = Field(
        default=True,
        description="Post the review summary on the pull request, updated in place.",
    )
    publish_inline_comments: bool = Field(
        default=True,
        description="Post each finding on a changed line as an inline comment, once.",
    )
    publish_code_insights: bool = Field(
        default=True,
        description="Publish a Code Insights report with annotations on commits.",
    )
    publish_build_status: bool = Field(
        default=False, description="Also set a build status on reviewed commits."
    )

    email_outbox_dir: Path = Field(
        default=Path("./data/outbox"),
        description="Where messages are written as .eml files when no SMTP is set.",
    )
    smtp_host: str | None = Field(
        default=None,
        description="Mail server; unset, emails are written to EMAIL_OUTBOX_DIR.",
    )
    smtp_port: int = Field(default=587, ge=1, le=65535, description="Mail port.")
    smtp_username: str | None = Field(
        default=None, description="User for SMTP AUTH; unset, no AUTH."
    )
    smtp_password: SecretStr | None = Field(
        default=None, description="Password for SMTP AUTH; never logged."
    )
    smtp_security: SmtpSecurity = Field(
        default="starttls",
        description="starttls (upgrade a plain connection, refuse if the server "
        "cannot), tls (TLS from the first byte, port 465) or none.",
    )
    smtp_timeout: float = Field(
        default=30.0, gt=0, le=600, description="Seconds each SMTP exchange may take."
    )
    smtp_verify_tls: bool = Field(
        default=True, description="Check the mail server's TLS certificate."
    )
    smtp_ca_bundle: Path | None = Field(
        default=None,
        description="PEM file of the CA that signed the mail server's certificate.",
    )
    email_from: str = Field(
        default="ai-code-reviewer@localhost", description="Sender of review emails."
    )
    email_reply_to: str | None = Field(
        default=None, description="Reply-To of review emails."
    )
    email_cc: str | None = Field(
        default=None, description="Comma-separated addresses copied on every email."
    )
    email_allowed_domains: str | None = Field(
        default=None,
        description="Comma-separated domains mail may go to; others are dropped. "
        "Unset: any domain.",
    )
    email_opt_out_file: Path | None = Field(
        default=None,
        description="File of addresses that get no email, one a line; read at "
        "each send.",
    )
    email_on: EmailPolicy = Field(
        default="always",
        description="always, findings (only with a finding at or above "
        "EMAIL_MIN_SEVERITY) or never.",
    )
    email_min_severity: Severity = Field(
        default="minor",
        description="Lowest severity that counts for EMAIL_ON=findings.",
    )
    email_reviewers: bool = Field(
        default=False, description="Also email a pull request's reviewers."
    )
    email_unsubscribe_url: str | None = Field(
        default=None,
        description="Opt-out page for the List-Unsubscribe header; {email} is "
        "replaced by the recipient's address.",
    )

    admin_token: SecretStr | None = Field(
        default=None,
        description="Bearer token of the admin endpoints (GET /api/health/detailed); "
        "unset, they answer 403.",
    )
    health_check_timeout: float = Field(
        default=3.0,
        gt=0,
        le=60,
        description="Seconds each check of /api/health/detailed may take.",
    )

    @field_validator("database_url")
    @classmethod
    def _check_driver(cls, value: str) -> str:
        """Refuse URLs whose driver the service cannot use asynchronously."""
        driver = value.split("://", 1)[0]
        if driver not in SUPPORTED_DRIVERS:
            supported = ", ".join(f"{name}://" for name in SUPPORTED_DRIVERS)
            msg = f"DATABASE_URL must start with one of {supported}; got {driver}://"
            raise ValueError(msg)
        return value

    @field_validator("log_level", mode="before")
    @classmethod
    def _upper_level(cls, value: object) -> object:
        """Accept log levels in any case."""
        return value.upper() if isinstance(value, str) else value

    @field_validator("llm_provider", "smtp_security", "email_on", mode="before")
    @classmethod
    def _lower_provider(cls, value: object) -> object:
        """Accept the names of providers and policies in any case."""
        return value.lower() if isinstance(value, str) else value

    @property
    def fallback_models(self) -> tuple[str, ...]:
        """Return LLM_FALLBACK_MODELS as a tuple of names."""
        return _split_list(self.llm_fallback_models)

    @property
    def cc_addresses(self) -> tuple[str, ...]:
        """Return EMAIL_CC as a tuple of addresses."""
        return _split_list(self.email_cc)

    @property
    def allowed_domains(self) -> tuple[str, ...]:
        """Return EMAIL_ALLOWED_DOMAINS as lower-case domains."""
        return tuple(
            domain.lower() for domain in _split_list(self.email_allowed_domains)
        )

    @property
    def branch_globs(self) -> tuple[str, ...]:
        """Return REVIEW_BRANCHES as a tuple of globs."""
        return _split_list(self.review_branches)

    @property
    def project_keys(self) -> tuple[str, ...]:
        """Return REVIEW_PROJECTS as a tuple of keys."""
        return _split_list(self.review_projects)

    @property
    def commands(self) -> tuple[str, ...]:
        """Return REVIEW_COMMANDS as a tuple of words."""
        return _split_list(self.review_commands)

    @property
    def ignore_globs(self) -> tuple[str, ...]:
        """Return REVIEW_IGNORE as a tuple of globs."""
        return _split_list(self.review_ignore)

    @field_validator("log_format", mode="before")
    @classmethod
    def _lower_format(cls, value: object) -> object:
        """Accept log formats in any case."""
        return value.lower() if isinstance(value, str) else value


def load_settings(**overrides: object) -> Settings:
    """Build the settings, turning validation errors into one clear ConfigError."""
    from pydantic import ValidationError

    from ai_code_reviewer.errors import ConfigError

    try:
        return Settings(**overrides)  # type: ignore[arg-type]  # keys are field names
    except ValidationError as exc:
        problems = "; ".join(
            f"{_field_name(err['loc'])}: {err['msg']}" for err in exc.errors()
        )
        raise ConfigError(f"invalid configuration: {problems}") from None


def _field_name(location: tuple[int | str, ...]) -> str:
    """Name a setting as its environment variable."""
    return ".".join(str(part) for part in location).upper() or "settings"


def _split_list(value: str | None) -> tuple[str, ...]:
    """Return the non-empty items of a comma-separated setting."""
    items = (value or "").split(",")
    return tuple(item.strip() for item in items if item.strip())
