"""Drift: the live schema compared with what the migrations produce at its recorded revision.

Everything here works on the driver alone (no SQLAlchemy, Alembic or pydantic), so the
no-op upgrade at pod start can fingerprint a schema without the heavy imports.
"""
