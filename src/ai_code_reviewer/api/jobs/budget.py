"""Keep each project's model spending within LLM_DAILY_TOKEN_BUDGET.

The day is the UTC calendar day of the review's ``created_at``. A review that
already started may finish over the budget; what the budget stops is the next
review's model calls, so a project never spends more than one review past it.
"""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import func, select

from ai_code_reviewer.api.db.database import Database
from ai_code_reviewer.api.db.models import ReviewRecord
from ai_code_reviewer.errors import BudgetExhausted


async def tokens_spent_today(
    database: Database, project_key: str, now: datetime
) -> int:
    """Return the prompt and answer tokens the project's reviews used today.

    ``now`` is naive UTC, as the DATETIME columns store it.
    """
    midnight = now.replace(hour=0, minute=0, second=0, microsecond=0)
    used = func.coalesce(ReviewRecord.prompt_tokens, 0) + func.coalesce(
        ReviewRecord.completion_tokens, 0
    )
    statement = select(func.coalesce(func.sum(used), 0)).where(
        ReviewRecord.created_at >= midnight, ReviewRecord.project_key == project_key
    )
    async with database.session() as session:
        return int((await session.execute(statement)).scalar_one())


async def check_token_budget(
    database: Database, project_key: str, budget: int | None, now: datetime
) -> None:
    """Raise BudgetExhausted when the project spent its daily tokens already."""
    if budget is None:
        return
    spent = await tokens_spent_today(database, project_key, now)
    if spent >= budget:
        raise BudgetExhausted(
            f"project {project_key} spent {spent} of its {budget} model tokens "
            "today (LLM_DAILY_TOKEN_BUDGET); no model was called. Retry the job "
            "tomorrow or raise the budget."
        )
