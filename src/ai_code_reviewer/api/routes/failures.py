"""Routes of /api/failures (being written)."""

from __future__ import annotations

from fastapi import APIRouter

router = APIRouter(prefix="/api/failures", tags=["failures"])
