"""Routes of /api/reviews (being written)."""

from __future__ import annotations

from fastapi import APIRouter

router = APIRouter(prefix="/api/reviews", tags=["reviews"])
