"""bot/storage/engine.py: SQLite pragmas, locks, files that are not databases; URLs."""

import asyncio
import sqlite3
import time

import pytest

from bot.storage import (
    DatabaseLockedError,
    NotADatabaseError,
    Storage,
    StorageClosedError,
    StorageConfig,
    StorageError,
)
from bot.storage.engine import create_engines, normalise_url


def sqlite_url(path):
    return f"sqlite+aiosqlite:///{path}"


async def test_sqlite_connections_use_wal_foreign_keys_busy_timeout_and_full_sync(tmp_path):
    engines = create_engines(sqlite_url(tmp_path / "p.db"), busy_timeout_ms=1234)
    try:
        for engine in (engines.writer, engines.reader):
            async with engine.connect() as conn:
                values = [
                    (await conn.exec_driver_sql(f"PRAGMA {p}")).scalar()
                    for p in ("journal_mode", "foreign_keys", "busy_timeout", "synchronous")
                ]
            assert values == ["wal", 1, 1234, 2]
    finally:
        await engines.dispose()


async def test_a_file_that_is_not_a_database_is_refused_and_left_alone(tmp_path):
    path = tmp_path / "banter.db"
    garbage = b"this is my thesis, not a database\n" * 100
    path.write_bytes(garbage)
    with pytest.raises(NotADatabaseError, match="not an SQLite database"):
        await Storage.open(config=StorageConfig(url=sqlite_url(path)))
    assert path.read_bytes() == garbage
    assert sorted(p.name for p in tmp_path.iterdir()) == ["banter.db"]  # no -wal, no -shm


async def test_an_empty_file_becomes_a_database(tmp_path):
    path = tmp_path / "empty.db"
    path.touch()
    store = await Storage.open(config=StorageConfig(url=sqlite_url(path)))
    await store.close()
    assert path.read_bytes()[:16] == b"SQLite format 3\x00"


def lock(path):
    """Another process's open write transaction, as a plain sqlite3 connection."""
    conn = sqlite3.connect(path, isolation_level=None, check_same_thread=False)
    conn.execute("BEGIN EXCLUSIVE")
    return conn


async def test_a_locked_database_is_retried_then_reported_clearly(tmp_path, msg):
    path = tmp_path / "locked.db"
    store = await Storage.open(config=StorageConfig(url=sqlite_url(path), busy_timeout_ms=50, lock_retries=2))
    await store.update_guild_settings(900_001, learning_channels=[800_010])
    holder = lock(path)
    try:
        started = time.monotonic()
        with pytest.raises(DatabaseLockedError, match="locked"):
            await store.log_message(msg(1, 100, "blocked"))
        # Three attempts of 50 ms plus back-offs of 50 and 200 ms: retried, yet bounded.
        assert 0.3 < time.monotonic() - started < 5
    finally:
        holder.rollback()
        holder.close()
    assert (await store.log_message(msg(2, 100, "free again"))).stored
    await store.close()


async def test_a_lock_released_during_the_retries_is_waited_out(tmp_path, msg):
    path = tmp_path / "briefly.db"
    store = await Storage.open(config=StorageConfig(url=sqlite_url(path), busy_timeout_ms=50, lock_retries=3))
    await store.update_guild_settings(900_001, learning_channels=[800_010])
    holder = lock(path)
    asyncio.get_running_loop().call_later(0.2, holder.rollback)
    try:
        assert (await store.log_message(msg(1, 100, "patience"))).stored
    finally:
        holder.close()
        await store.close()


def test_urls_get_async_drivers_and_other_databases_are_refused():
    assert normalise_url("sqlite:///x.db").drivername == "sqlite+aiosqlite"
    assert normalise_url("postgresql://u:p@h/db").drivername == "postgresql+asyncpg"
    assert normalise_url("postgres://u:p@h/db").drivername == "postgresql+asyncpg"
    with pytest.raises(StorageError):
        normalise_url("mysql://u:p@h/db")
    with pytest.raises(StorageError):
        create_engines("sqlite+aiosqlite://")  # in-memory: the writer and readers would not share it


async def test_relative_sqlite_path_is_under_the_current_directory_and_its_folder_is_made(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    store = await Storage.open(config=StorageConfig(url="sqlite+aiosqlite:///data/nested/banter.db"))
    await store.close()
    assert (tmp_path / "data" / "nested" / "banter.db").stat().st_size > 0


async def test_opening_twice_upgrades_once_and_keeps_data(storage, msg, reopen):
    await storage.log_message(msg(1, 100, "keep me"))
    await storage.close()
    again = await reopen()
    assert (await again.export_user_data(100))["messages"][0]["content"] == "keep me"


async def test_calls_after_close_are_refused(storage, msg):
    await storage.close()
    with pytest.raises(StorageClosedError):
        await storage.log_message(msg(1, 100, "too late"))


async def test_the_writer_finishes_what_was_submitted_before_closing(config, msg, count_rows):
    store = await Storage.open(config=config)
    await store.update_guild_settings(900_001, learning_channels=[800_010])
    pending = [asyncio.ensure_future(store.log_message(msg(i, 100 + i % 2, f"m {i}", i))) for i in range(1, 51)]
    await asyncio.sleep(0)
    await store.close()
    assert all(f.result().stored for f in pending)
    assert await count_rows("messages") == 50


async def test_postgres_connection_errors_are_not_swallowed(tmp_path):
    with pytest.raises(Exception) as info:
        await Storage.open(config=StorageConfig(url="postgresql+asyncpg://nobody:x@127.0.0.1:1/none"))
    assert not isinstance(info.value, DatabaseLockedError)
