"""Alembic environment: the app's metadata and database URL, async engines, batch mode on SQLite."""

import asyncio
from logging.config import fileConfig

from alembic import context
from sqlalchemy.engine import Connection

from bot.storage.config import resolve_url
from bot.storage.engine import create_engines, normalise_url
from bot.storage.migrate import migration_connection
from bot.storage.models import Base

config = context.config
target_metadata = Base.metadata

if config.config_file_name is not None and config.attributes.get("configure_logger", True):
    fileConfig(config.config_file_name)


def _url() -> str:
    # `alembic -x url=...` if given, else exactly what the app uses: BANTER_DATABASE_URL, then config.toml.
    return context.get_x_argument(as_dictionary=True).get("url") or resolve_url()


def _configure(**kwargs) -> None:
    context.configure(
        target_metadata=target_metadata,
        compare_type=True,
        compare_server_default=True,
        **kwargs,
    )


def do_run_migrations(connection: Connection) -> None:
    # SQLite cannot ALTER most things in place; batch mode copies the table instead. Its DDL is
    # transactional here: the engine issues BEGIN itself (see bot/storage/engine.py).
    sqlite = connection.dialect.name == "sqlite"
    _configure(connection=connection, render_as_batch=sqlite, transactional_ddl=True)
    with context.begin_transaction():
        context.run_migrations()


async def run_async_migrations() -> None:
    engines = create_engines(_url())
    try:
        async with migration_connection(engines.writer) as conn:
            await conn.run_sync(do_run_migrations)
    finally:
        await engines.dispose()


def run_migrations_offline() -> None:
    url = normalise_url(_url())
    _configure(
        url=url,
        literal_binds=True,
        dialect_opts={"paramstyle": "named"},
        render_as_batch=url.get_backend_name() == "sqlite",
    )
    with context.begin_transaction():
        context.run_migrations()


def run_migrations_online() -> None:
    connection = config.attributes.get("connection")
    if connection is None:
        asyncio.run(run_async_migrations())
    else:
        # The app's Storage.open is already inside an async connection: use it.
        do_run_migrations(connection)


if context.is_offline_mode():
    run_migrations_offline()
else:
    run_migrations_online()
