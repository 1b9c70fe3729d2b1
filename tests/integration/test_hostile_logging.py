"""JSON logs stay JSON when the user's code reconfigures logging as a real application does.

What the runner puts back after it imports user code (revision files, the schema
module, env.py) and after each revision: the root logger's handler and level, the
``migrator``, ``alembic`` and ``sqlalchemy`` loggers and their children (handlers,
levels, propagation, disabled by ``dictConfig``), ``logging.disable`` and the
warnings hook. Not the runner's: the user's own loggers with handlers of their own,
and what user code prints or logs while it is being imported, before control returns.
"""

from __future__ import annotations

from tests.support.migrations import Migrate, MigrationsDir, sql
from tests.support.schema_module import SchemaModule

# An application's settings module: every way seen of taking logging over.
SABOTAGE = """
import logging
import logging.config
import warnings


def take_over_logging() -> None:
    logging.basicConfig(force=True, level=logging.DEBUG, format="PLAIN root %(message)s")
    logging.config.dictConfig({
        "version": 1,
        "disable_existing_loggers": True,  # the default: silences the runner's logger
        "formatters": {"plain": {"format": "PLAIN %(name)s %(message)s"}},
        "handlers": {
            "console": {
                "class": "logging.StreamHandler",
                "stream": "ext://sys.stderr",
                "formatter": "plain",
            },
        },
        "loggers": {
            "alembic": {"handlers": ["console"], "level": "INFO", "propagate": False},
            "alembic.runtime.migration": {"handlers": ["console"], "propagate": False},
            "sqlalchemy.engine": {"handlers": ["console"], "level": "INFO", "propagate": False},
            "migrator": {"handlers": ["console"], "level": "DEBUG", "propagate": False},
        },
        "root": {"handlers": ["console"], "level": "DEBUG"},
    })
    logging.captureWarnings(True)  # warnings as plain lines through py.warnings
    logging.disable(logging.INFO)  # and the runner's INFO lines gone


take_over_logging()
"""

NOISE = [
    "import logging, warnings",
    "logging.getLogger('alembic').warning('a warning on alembic from the revision')",
    "logging.getLogger('sqlalchemy.engine').warning('a warning on sqlalchemy from the revision')",
    "warnings.warn('a deprecation the revision triggers', stacklevel=1)",
]


def test_models_that_take_logging_over_leave_every_line_json(
    migrate: Migrate, migrations: MigrationsDir, schema: SchemaModule
) -> None:
    (schema.directory / "app_settings.py").write_text(SABOTAGE)
    settings = schema.write(
        "import app_settings  # noqa: F401\n"
        "sa.Table('t1', metadata, sa.Column('id', sa.Integer, primary_key=True,"
        " autoincrement=False))\n"
    )
    # The revision imports the application's settings, as revisions that import
    # models do, and its upgrade() takes logging over again as it runs.
    migrations.add(
        "r0001",
        None,
        upgrade=[
            "import app_settings",
            sql("CREATE TABLE t1 (id INT NOT NULL PRIMARY KEY)"),
            *NOISE,
            "app_settings.take_over_logging()",
        ],
    )
    migrations.add("r0002", "r0001", upgrade=[*NOISE])

    upgraded = migrate("upgrade", "--debug", **settings)
    checked = migrate("check", **settings)

    for result in (upgraded, checked):
        assert "PLAIN" not in result.stderr, result.stderr
        assert result.logs  # every line parses as JSON, or the helper fails the test
    assert upgraded.code == 0, upgraded.stderr
    assert checked.code == 0, checked.stderr
    lines = upgraded.logs
    messages = [e["message"] for e in lines]
    # The runner's own lines, at their levels, after each takeover.
    assert messages.count("applied revision") == 2
    assert all(e["level"] == "info" for e in lines if e["message"] == "applied revision")
    assert "upgrade complete" in messages
    # Alembic's and the revisions' lines: JSON, through the runner's handler.
    assert {"alembic.runtime.migration", "alembic", "sqlalchemy.engine"} <= {
        e["logger"] for e in lines
    }
    assert messages.count("a warning on alembic from the revision") == 2
    assert sum("UserWarning: a deprecation the revision triggers" in m for m in messages) == 2
    assert "no differences between the database and the schema module" in checked.messages()
