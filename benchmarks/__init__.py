"""Benchmarks of ai-code-reviewer: ``python -m benchmarks`` (``make bench``)."""
