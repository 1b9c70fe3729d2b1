"""Autogenerate: the shadow database, the rewritten operations, the reviewer's notes."""
