"""Alembic wiring: the migration environment, per-thread proxies, the revision scripts."""
