"""Alembic environment for the migration runner.

The runner builds Alembic's Config in code and hands over, in
``config.attributes``, the live connection (already holding the migration
lock) and the target metadata imported from the schema module (MIGRATE_SCHEMA).
This file reads no environment and creates no engine.
"""

from alembic import context

from migrator.alembic_support.environment import connection, context_options

config = context.config

if context.is_offline_mode():
    # `sql`: render MySQL DDL to stdout without a server.
    context.configure(dialect_name="mysql", literal_binds=True, **context_options(config))
else:
    context.configure(connection=connection(config), **context_options(config))

with context.begin_transaction():
    context.run_migrations()
