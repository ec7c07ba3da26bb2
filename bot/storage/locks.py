"""Locks shared by every process on one database (bot shards): PostgreSQL advisory locks, or lock files."""

from __future__ import annotations

import contextlib
import fcntl
import hashlib
import os
from collections.abc import AsyncIterator, Iterator
from pathlib import Path

from sqlalchemy import text
from sqlalchemy.exc import DBAPIError
from sqlalchemy.ext.asyncio import AsyncEngine

from .engine import Engines, sqlite_path


def advisory_key(name: str) -> int:
    """The signed 64-bit key of a named lock (PostgreSQL's advisory locks take a bigint)."""
    digest = hashlib.blake2b(name.encode(), digest_size=8, person=b"banter-lock").digest()
    return int.from_bytes(digest, "big", signed=True)


def lock_file(engines: Engines, name: str) -> Path:
    path = sqlite_path(engines.url)
    assert path is not None  # create_engines refuses in-memory SQLite
    return path.with_name(f"{path.name}.{name}.lock")


@contextlib.contextmanager
def _flock(path: Path) -> Iterator[bool]:
    # flock, not fcntl/lockf: its lock belongs to this open file, so two openers in one process
    # exclude each other too, and it goes when the file is closed or the process dies.
    fd = os.open(path, os.O_RDWR | os.O_CREAT, 0o600)
    try:
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            yield False
        else:
            yield True
    finally:
        os.close(fd)


@contextlib.asynccontextmanager
async def _advisory(engine: AsyncEngine, key: int) -> AsyncIterator[bool]:
    # A session-level lock on a connection of its own, held for the whole block (a fine-tune lasts
    # minutes to hours); PostgreSQL drops it if this process or its connection dies.
    async with engine.connect() as conn:
        held = bool(await conn.scalar(text("SELECT pg_try_advisory_lock(:key)"), {"key": key}))
        await conn.commit()  # the lock outlives the transaction; the connection must not idle inside one
        try:
            yield held
        finally:
            if held:
                try:
                    await conn.execute(text("SELECT pg_advisory_unlock(:key)"), {"key": key})
                    await conn.commit()
                except BaseException:
                    # Unsure whether it was released: closing the connection releases it for certain.
                    with contextlib.suppress(DBAPIError):
                        await conn.invalidate()
                    raise


@contextlib.asynccontextmanager
async def exclusive(engines: Engines, name: str) -> AsyncIterator[bool]:
    """Hold the lock `name` while the block runs; yields False at once (no waiting) if another holds it."""
    if engines.dialect == "postgresql":
        async with _advisory(engines.writer, advisory_key(name)) as held:
            yield held
    else:
        with _flock(lock_file(engines, name)) as held:
            yield held


async def is_held(engines: Engines, name: str) -> bool:
    """Whether some process (this one included) holds the lock `name` right now."""
    if engines.dialect == "postgresql":
        key = advisory_key(name) & 0xFFFFFFFFFFFFFFFF  # pg_locks shows the bigint as two unsigned halves
        query = text(
            "SELECT EXISTS (SELECT 1 FROM pg_locks WHERE locktype = 'advisory' AND granted "
            "AND classid = :hi AND objid = :lo AND objsubid = 1 "
            "AND database = (SELECT oid FROM pg_database WHERE datname = current_database()))"
        )
        async with engines.reader.connect() as conn:
            return bool(await conn.scalar(query, {"hi": key >> 32, "lo": key & 0xFFFFFFFF}))
    with _flock(lock_file(engines, name)) as free:  # taken and let go at once: a lock file has no "peek"
        return not free
