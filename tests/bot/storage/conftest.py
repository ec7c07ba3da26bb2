"""Fixtures for the storage suite: every database test runs on a real SQLite file, and on
PostgreSQL too when BANTER_TEST_POSTGRES_URL is set (e.g.
postgresql+asyncpg://banter:banter@127.0.0.1:5432/banter_test, see scripts/start-postgres.sh)."""

from __future__ import annotations

import os
from collections.abc import Callable
from dataclasses import replace
from datetime import UTC, datetime, timedelta

import pytest
from sqlalchemy import BigInteger, Integer, String, Text, func, select, text
from sqlalchemy.ext.asyncio import create_async_engine

from bot.storage import IncomingMessage, Storage, StorageConfig
from bot.storage.engine import normalise_url
from bot.storage.models import Base

POSTGRES_URL = os.environ.get("BANTER_TEST_POSTGRES_URL")
BACKENDS = ["sqlite"] + ([pytest.param("postgres", marks=pytest.mark.postgres)] if POSTGRES_URL else [])

GUILD, OTHER_GUILD = 900_001, 900_002
CHANNEL, OTHER_CHANNEL, QUIET_CHANNEL = 800_010, 800_011, 800_099  # QUIET: never a learning channel
T0 = datetime(2025, 3, 1, 12, 0, tzinfo=UTC)
# Message ids are offset so that scanning the database for one can never hit a guild, channel
# or user id by accident.
MESSAGE_BASE = 10**12


def M(i: int) -> int:
    """The stored id of test message i."""
    return MESSAGE_BASE + i


async def reset_postgres(url: str) -> None:
    engine = create_async_engine(normalise_url(url))
    async with engine.begin() as conn:
        await conn.execute(text("DROP SCHEMA public CASCADE"))
        await conn.execute(text("CREATE SCHEMA public"))
    await engine.dispose()


@pytest.fixture(params=BACKENDS)
async def db_url(request, tmp_path) -> str:
    """An empty database: a fresh SQLite file, or PostgreSQL with its schema dropped."""
    if request.param == "sqlite":
        return f"sqlite+aiosqlite:///{tmp_path / 'banter.db'}"
    await reset_postgres(POSTGRES_URL)
    return POSTGRES_URL


@pytest.fixture
def config(db_url) -> StorageConfig:
    # Defaults, not config.toml: the tests must not depend on what a deployment configured.
    return StorageConfig(url=db_url)


@pytest.fixture
async def storage(config) -> Storage:
    """A Storage on an empty database whose two guilds learn in CHANNEL and OTHER_CHANNEL."""
    store = await Storage.open(config=config)
    for guild in (GUILD, OTHER_GUILD):
        await store.update_guild_settings(guild, learning_channels=[CHANNEL, OTHER_CHANNEL])
    yield store
    await store.close()


@pytest.fixture
async def reopen(config):
    """Open another Storage on the same database (the test closes the first one)."""
    opened = []

    async def _open(**changes) -> Storage:
        store = await Storage.open(config=replace(config, **changes))
        opened.append(store)
        return store

    yield _open
    for store in opened:
        await store.close()


@pytest.fixture
def msg() -> Callable[..., IncomingMessage]:
    """msg(i, author, text, seconds after T0, reply_to=None, channel=CHANNEL, guild=GUILD, bot=False, own=False);
    i and reply_to are small numbers, stored as M(i)."""

    def make(
        id: int,
        author: int,
        content: str,
        seconds: float = 0,
        reply_to: int | None = None,
        *,
        channel: int = CHANNEL,
        guild: int = GUILD,
        bot: bool = False,
        own: bool = False,
    ) -> IncomingMessage:
        return IncomingMessage(
            id=M(id),
            guild_id=guild,
            channel_id=channel,
            author_id=author,
            content=content,
            created_at=T0 + timedelta(seconds=seconds),
            reply_to_id=M(reply_to) if reply_to else None,
            author_is_bot=bot,
            is_own=own,
        )

    return make


@pytest.fixture
def scan(db_url):
    """scan(value) -> {"table.column": rows} for every column holding `value` (ints exactly, text as
    a substring), read over a connection of its own: what a test proves is no longer stored."""

    async def _scan(value: int | str) -> dict[str, int]:
        engine = create_async_engine(normalise_url(db_url))
        found = {}
        try:
            async with engine.connect() as conn:
                for table in Base.metadata.sorted_tables:
                    for column in table.columns:
                        if isinstance(value, int) and isinstance(column.type, Integer):
                            if not isinstance(column.type, BigInteger) and abs(value) >= 2**31:
                                continue  # a 32-bit column cannot hold it (and PostgreSQL would refuse)
                            where = column == value
                        elif isinstance(value, str) and isinstance(column.type, String | Text):
                            where = column.contains(value, autoescape=True)
                        else:
                            continue
                        count = await conn.scalar(select(func.count()).select_from(table).where(where))
                        if count:
                            found[f"{table.name}.{column.name}"] = count
        finally:
            await engine.dispose()
        return found

    return _scan


@pytest.fixture
def count_rows(db_url):
    """count_rows(table_name) over a connection of its own."""

    async def _count(table: str) -> int:
        engine = create_async_engine(normalise_url(db_url))
        try:
            async with engine.connect() as conn:
                return await conn.scalar(select(func.count()).select_from(Base.metadata.tables[table]))
        finally:
            await engine.dispose()

    return _count
