"""Storage: engine and sessions, models, repositories, migrations and backups."""
