"""Reviewers: one interface, one module per model vendor, and an offline one."""
