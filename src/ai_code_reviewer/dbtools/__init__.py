"""Database maintenance: the ``ai-code-reviewer db`` commands and db_helper.py."""
