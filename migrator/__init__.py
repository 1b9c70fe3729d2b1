"""A migration runner for SQLAlchemy/Alembic applications on MySQL and MariaDB."""

__version__ = "0.1.0"
