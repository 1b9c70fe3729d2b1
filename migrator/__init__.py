"""A migration runner for SQLAlchemy/Alembic applications on MySQL/MariaDB."""

# The release, in this one place: --version, pyproject.toml, the image's label and tag.
__version__ = "0.2.0"
