"""Alembic environment: runs on the connection `storage.migrate` hands over (sync or async engines)."""

from __future__ import annotations

from alembic import context
from sqlalchemy import create_engine

from storage.all_tables import Base

config = context.config


def _run(connection: object) -> None:
    context.configure(
        connection=connection,
        target_metadata=Base.metadata,
        render_as_batch=True,  # SQLite needs batch mode to alter tables
        compare_type=True,
    )
    with context.begin_transaction():
        context.run_migrations()


connection = config.attributes.get("connection")
if connection is not None:
    _run(connection)
elif context.is_offline_mode():
    context.configure(url=config.get_main_option("sqlalchemy.url"), target_metadata=Base.metadata)
    with context.begin_transaction():
        context.run_migrations()
else:
    # Plain `alembic` CLI use with a sync URL, e.g. for autogenerate during development.
    with create_engine(config.get_main_option("sqlalchemy.url")).connect() as sync_connection:
        _run(sync_connection)
