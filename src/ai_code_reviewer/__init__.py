"""ai-code-reviewer: review every commit and pull request with a language model."""

from __future__ import annotations

__version__ = "0.1.0"
