"""The pure core of a review: diffs, findings, redaction and rendering (no I/O)."""
