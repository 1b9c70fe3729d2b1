"""A migration runner for SQLAlchemy/Alembic applications on MySQL/MariaDB."""

__version__ = "0.1.0"
