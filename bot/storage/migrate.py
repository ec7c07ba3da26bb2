"""Running Alembic from the app: `upgrade head` on start, over the app's own connection."""

from __future__ import annotations

import asyncio
import contextlib
import fcntl
import os
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

from alembic import command
from alembic.config import Config
from sqlalchemy import text
from sqlalchemy.engine import Connection
from sqlalchemy.ext.asyncio import AsyncConnection, AsyncEngine

from .config import REPO_ROOT
from .engine import sqlite_path
from .errors import StorageError
from .locks import advisory_key

MIGRATIONS_DIR = REPO_ROOT / "migrations"
ALEMBIC_INI = REPO_ROOT / "alembic.ini"


def alembic_config() -> Config:
    """Alembic's Config for this checkout (the app hands env.py its connection, not a URL)."""
    if not (MIGRATIONS_DIR / "env.py").exists():
        raise StorageError(f"migrations not found at {MIGRATIONS_DIR}: run Banter from its checkout")
    cfg = Config(str(ALEMBIC_INI)) if ALEMBIC_INI.exists() else Config()
    cfg.set_main_option("script_location", str(MIGRATIONS_DIR))
    # The app logs as it likes; env.py must not reconfigure logging under it.
    cfg.attributes["configure_logger"] = False
    return cfg


async def _sqlite_foreign_keys(conn: AsyncConnection, on: bool) -> None:
    # The pragma is ignored inside a transaction, and SQLAlchemy would open one (BEGIN IMMEDIATE)
    # before any statement it runs: so it goes to the driver directly.
    raw = await conn.get_raw_connection()
    await raw.driver_connection.execute(f"PRAGMA foreign_keys={'ON' if on else 'OFF'}")


@asynccontextmanager
async def _sqlite_migration_lock(engine: AsyncEngine) -> AsyncIterator[None]:
    """Processes opening one SQLite file together migrate one at a time (a lock file beside it).

    SQLite's busy timeout alone is not enough: a migration can hold the write lock for longer, and
    the second process then fails with "database is locked" instead of finding the schema done.
    """
    path = sqlite_path(engine.url)
    if path is None:
        yield
        return
    fd = os.open(path.with_name(f"{path.name}.migrate.lock"), os.O_RDWR | os.O_CREAT, 0o600)
    try:
        await asyncio.to_thread(fcntl.flock, fd, fcntl.LOCK_EX)
        yield
    finally:
        os.close(fd)  # closing releases the flock


@asynccontextmanager
async def migration_connection(engine: AsyncEngine) -> AsyncIterator[AsyncConnection]:
    """A connection inside one transaction for Alembic: a failed migration leaves nothing behind.

    On SQLite, foreign keys are off meanwhile, because batch mode copies a table and drops the
    original, and dropping `messages` with them on would cascade to every pair. They are checked
    before the commit instead.
    """
    sqlite = engine.dialect.name == "sqlite"
    async with _sqlite_migration_lock(engine) if sqlite else contextlib.nullcontext(), engine.connect() as conn:
        if sqlite:
            await _sqlite_foreign_keys(conn, False)
        try:
            async with conn.begin():
                if not sqlite:
                    # Bot shards start together: one migrates, the others wait, then find it done.
                    # (SQLite's writer begins IMMEDIATE, which serialises them already.)
                    await conn.execute(text("SELECT pg_advisory_xact_lock(:key)"), {"key": advisory_key("migrate")})
                yield conn
                if sqlite and (await conn.exec_driver_sql("PRAGMA foreign_key_check")).first():
                    raise StorageError("a migration left rows whose foreign keys point nowhere; rolled back")
        finally:
            if sqlite:
                await _sqlite_foreign_keys(conn, True)


def _run(connection: Connection, revision: str, direction: str) -> None:
    cfg = alembic_config()
    cfg.attributes["connection"] = connection
    if direction == "up":
        command.upgrade(cfg, revision)
    else:
        command.downgrade(cfg, revision)


async def upgrade(engine: AsyncEngine, revision: str = "head") -> None:
    """Bring the schema to `revision` (the app calls this on every start; it is a no-op when current)."""
    async with migration_connection(engine) as conn:
        await conn.run_sync(_run, revision, "up")


async def downgrade(engine: AsyncEngine, revision: str = "base") -> None:
    async with migration_connection(engine) as conn:
        await conn.run_sync(_run, revision, "down")
