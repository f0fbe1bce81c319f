"""Hold the material the seed command draws its sample records from."""

from __future__ import annotations

from dataclasses import dataclass

REPOSITORIES: dict[str, tuple[str, ...]] = {
    "PAY": ("payments-api", "ledger"),
    "WEB": ("storefront", "design-system"),
    "OPS": ("deploy-tools",),
    "DATA": ("etl-pipelines", "warehouse-models"),
}

AUTHORS: tuple[tuple[str, str], ...] = (
    ("Amara Okafor", "amara.okafor@example.com"),
    ("Jonas Lindqvist", "jonas.lindqvist@example.com"),
    ("Priya Raman", "priya.raman@example.com"),
    ("Mateo García", "mateo.garcia@example.com"),
    ("Chen Wei", "chen.wei@example.com"),
    ("Fatima Haddad", "fatima.haddad@example.com"),
)

MODELS: tuple[tuple[str, str], ...] = (
    ("openai", "gpt-4o-mini"),
    ("anthropic", "claude-3-5-sonnet-20241022"),
    ("ollama", "qwen2.5-coder:14b"),
    ("builtin", "builtin"),
)


@dataclass(frozen=True)
class Change:
    """Describe one edit to a file and what a reviewer says about it."""

    path: str
    context: tuple[str, ...]
    removed: tuple[str, ...]
    added: tuple[str, ...]
    severity: str
    category: str
    finding: str
    suggestion: str


CHANGES: tuple[Change, ...] = (
    Change(
        path="src/payments/refunds.py",
        context=(
            "def refund(payment, amount):",
            '    """Refund a captured payment."""',
        ),
        removed=("    return gateway.refund(payment.id, payment.amount)",),
        added=(
            "    log.info('refund %s', payment.id)",
            "    return gateway.refund(payment.id, amount)",
        ),
        severity="major",
        category="bug",
        finding="`amount` is not checked against the captured amount, so a "
        "refund can exceed the payment.",
        suggestion="Raise `ValueError` when `amount > payment.captured_amount`.",
    ),
    Change(
        path="src/auth/session.py",
        context=("def set_session_cookie(response, token):",),
        removed=("    response.set_cookie('session', token, secure=True)",),
        added=("    response.set_cookie('session', token, httponly=False)",),
        severity="critical",
        category="security",
        finding="The session cookie lost `secure` and is readable from "
        "JavaScript, which exposes it to XSS.",
        suggestion="Keep `secure=True, httponly=True, samesite='Lax'`.",
    ),
    Change(
        path="src/components/CheckoutForm.tsx",
        context=("export function CheckoutForm({ cart }: Props) {",),
        removed=("  const total = cart.items.reduce(sum, 0);",),
        added=(
            "  const [total, setTotal] = useState(0);",
            "  useEffect(() => setTotal(cart.items.reduce(sum, 0)));",
        ),
        severity="minor",
        category="performance",
        finding="The effect has no dependency list and runs after every render.",
        suggestion="Derive `total` during render, or pass `[cart.items]`.",
    ),
    Change(
        path="deploy/k8s/worker-deployment.yaml",
        context=("      containers:", "        - name: worker"),
        removed=("          resources: {limits: {memory: 512Mi}}",),
        added=("          image: registry.example.com/worker:latest",),
        severity="major",
        category="maintainability",
        finding="The memory limit was dropped and the image tag is `latest`, "
        "so rollouts are neither bounded nor reproducible.",
        suggestion="Pin the image by digest and keep the memory limit.",
    ),
    Change(
        path="models/marts/orders_daily.sql",
        context=("select", "    order_date,"),
        removed=("    sum(amount) as revenue",),
        added=("    sum(amount) / count(*) as revenue",),
        severity="major",
        category="bug",
        finding="`revenue` now holds the average order value, and divides by "
        "zero on days without orders.",
        suggestion="Keep `sum(amount)` and add `avg_order_value` separately.",
    ),
    Change(
        path="internal/ledger/balance.go",
        context=("func (l *Ledger) Apply(e Entry) error {",),
        removed=("\tl.mu.Lock()", "\tdefer l.mu.Unlock()"),
        added=("\tl.balance += e.Amount",),
        severity="critical",
        category="bug",
        finding="The mutex is gone, so concurrent entries race on `balance`.",
        suggestion="Restore the lock, or keep the balance in an atomic.",
    ),
)


@dataclass(frozen=True)
class FailureKind:
    """Describe how a review job gives up: its stage, error and where it is raised."""

    stage: str
    error_type: str
    message: str
    module: str
    function: str


FAILURES: tuple[FailureKind, ...] = (
    FailureKind(
        "fetch_diff",
        "NotFound",
        "Bitbucket answered 404 for the diff of commit {short}",
        "githost/bitbucket.py",
        "fetch_diff",
    ),
    FailureKind(
        "fetch_diff",
        "RateLimited",
        "Bitbucket answered 429 Too Many Requests; retry after 60 s",
        "githost/bitbucket.py",
        "fetch_diff",
    ),
    FailureKind(
        "prepare_diff",
        "ContextTooLong",
        "the diff needs {tokens} tokens after filtering; the model takes 128000",
        "review/budget.py",
        "fit_budget",
    ),
    FailureKind(
        "llm_review",
        "TimeoutError",
        "the model did not answer within 60 s",
        "llm/openai.py",
        "review_chunk",
    ),
    FailureKind(
        "store",
        "OperationalError",
        "database is locked",
        "api/db/repository.py",
        "add",
    ),
    FailureKind(
        "email",
        "SMTPRecipientsRefused",
        "the SMTP server refused every recipient: {email}",
        "notify/email.py",
        "send_review",
    ),
    FailureKind(
        "publish",
        "GitHostError",
        "Bitbucket answered 409 on PR #{pr}: the pull request is already merged",
        "githost/bitbucket.py",
        "publish_comment",
    ),
)

RESOLUTIONS: tuple[str, ...] = (
    "Retried after the Bitbucket outage; the review was delivered.",
    "The diff was a vendored lockfile; added it to the ignore list.",
    "SMTP relay credentials rotated; the email was sent again.",
    "The commit was force-pushed away; nothing left to review.",
)
