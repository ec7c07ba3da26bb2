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
    writer,
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


async def until(predicate, timeout: float = 10.0) -> None:
    deadline = time.monotonic() + timeout
    while not predicate():
        assert time.monotonic() < deadline, "condition not met in time"
        await asyncio.sleep(0.02)


async def test_writes_outlasting_a_long_lock_are_kept_in_order_and_nothing_is_lost(tmp_path, msg, caplog):
    # Issue 12, item 16: a 40 s lock lost 1 of 6 logged messages once the retries ran out. Here the
    # retries run out after ~0.1 s, and the lock is held ten times as long as that.
    path = tmp_path / "locked.db"
    config = StorageConfig(url=sqlite_url(path), busy_timeout_ms=50, lock_retries=1, write_backlog=6)
    store = await Storage.open(config=config)
    await store.update_guild_settings(900_001, learning_channels=[800_010])
    holder = lock(path)
    try:
        pending = [asyncio.ensure_future(store.log_message(msg(i, 100 + i % 2, f"m {i}", i))) for i in range(1, 7)]
        await until(lambda: store.write_backlog.locked_since is not None and store.write_backlog.waiting == 6)
        with pytest.raises(DatabaseLockedError, match="6 writes are already waiting for a database locked"):
            await store.log_message(msg(7, 100, "one too many"))  # the backlog is bounded: refused at once
        await until(lambda: time.time() - store.write_backlog.locked_since > 1.0)
        assert not any(f.done() for f in pending)
    finally:
        holder.rollback()
        holder.close()
    results = await asyncio.wait_for(asyncio.gather(*pending), 10)
    assert [r.stored for r in results] == [True] * 6
    assert store.write_backlog.waiting == 0 and store.write_backlog.locked_since is None
    assert (await store.log_message(msg(8, 100, "free again"))).stored
    await store.close()
    said = [r.getMessage() for r in caplog.records if r.name == "bot.storage.writer"]
    assert any("is locked" in line and "keeping 6 write(s) until it is free" in line for line in said), said
    assert any("free again" in line and "writing the 6 write(s)" in line for line in said), said


async def test_closing_with_the_database_still_locked_gives_up_after_a_grace(tmp_path, msg, caplog, monkeypatch):
    monkeypatch.setattr(writer, "CLOSE_GRACE_S", 0.5)
    path = tmp_path / "stuck.db"
    store = await Storage.open(config=StorageConfig(url=sqlite_url(path), busy_timeout_ms=50, lock_retries=0))
    await store.update_guild_settings(900_001, learning_channels=[800_010])
    holder = lock(path)
    try:
        held = asyncio.ensure_future(store.log_message(msg(1, 100, "held")))
        await until(lambda: store.write_backlog.locked_since is not None)
        await asyncio.wait_for(store.close(), 10)  # a stop must not hang on someone else's lock
        with pytest.raises(DatabaseLockedError, match="stayed locked until storage closed"):
            await held
    finally:
        holder.rollback()
        holder.close()
    assert any("giving up 1 write(s)" in r.getMessage() for r in caplog.records)


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


async def test_the_default_data_folder_is_made_under_the_current_directory(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    store = await Storage.open(config=StorageConfig())  # sqlite+aiosqlite:///data/banter.db
    await store.close()
    assert (tmp_path / "data" / "banter.db").stat().st_size > 0


@pytest.mark.parametrize("where", ["absolute", "relative"])
async def test_a_url_into_a_folder_that_does_not_exist_is_refused_and_creates_nothing(tmp_path, monkeypatch, where):
    # Issue 12, item 17: such a URL silently created its folders (at the filesystem root, for one).
    monkeypatch.chdir(tmp_path)
    url = sqlite_url(tmp_path / "typo" / "banter.db") if where == "absolute" else sqlite_url("data/nested/banter.db")
    with pytest.raises(StorageError, match=r"the folder .*(typo|data/nested) for the database does not exist"):
        await Storage.open(config=StorageConfig(url=url))
    assert list(tmp_path.iterdir()) == []


async def test_a_truncated_database_is_refused_with_one_clear_error_and_left_alone(tmp_path):
    path = tmp_path / "banter.db"
    store = await Storage.open(config=StorageConfig(url=sqlite_url(path)))
    await store.close()
    whole = path.read_bytes()
    path.write_bytes(whole[: len(whole) // 2])  # a copy cut short: the header is fine, the pages are not
    with pytest.raises(NotADatabaseError, match="is damaged or not an SQLite database") as info:
        await Storage.open(config=StorageConfig(url=sqlite_url(path)))
    assert "\n" not in str(info.value)
    assert path.read_bytes() == whole[: len(whole) // 2]


async def test_a_database_locked_at_open_says_so(tmp_path):
    path = tmp_path / "busy.db"
    await (await Storage.open(config=StorageConfig(url=sqlite_url(path)))).close()
    holder = lock(path)
    try:
        with pytest.raises(DatabaseLockedError, match="is locked by another process"):
            await Storage.open(config=StorageConfig(url=sqlite_url(path), busy_timeout_ms=50))
    finally:
        holder.rollback()
        holder.close()


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
