"""Engines: URL handling, the SQLite file checks and pragmas, and telling lock errors apart."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from sqlalchemy import event
from sqlalchemy.dialects.postgresql import insert as pg_insert
from sqlalchemy.dialects.sqlite import insert as sqlite_insert
from sqlalchemy.engine import URL, make_url
from sqlalchemy.exc import DBAPIError, OperationalError
from sqlalchemy.ext.asyncio import AsyncEngine, create_async_engine

from .config import DEFAULT_URL
from .errors import NotADatabaseError, StorageError

SQLITE_MAGIC = b"SQLite format 3\x00"
# SQLSTATEs PostgreSQL uses for "try again": serialization failure, deadlock, lock timeout.
_PG_RETRY_STATES = {"40001", "40P01", "55P03"}


def normalise_url(url: str) -> URL:
    """Parse the URL and give plain sqlite:// and postgresql:// their async drivers."""
    parsed = make_url(url)
    driver = {"sqlite": "sqlite+aiosqlite", "postgresql": "postgresql+asyncpg", "postgres": "postgresql+asyncpg"}
    if parsed.drivername in driver:
        parsed = parsed.set(drivername=driver[parsed.drivername])
    if parsed.get_backend_name() not in ("sqlite", "postgresql"):
        raise StorageError(f"unsupported database {parsed.drivername!r}: use SQLite or PostgreSQL")
    return parsed


def sqlite_path(url: URL) -> Path | None:
    """The database file of a SQLite URL (relative paths: to the current directory); None for memory."""
    if url.get_backend_name() != "sqlite" or url.database in (None, "", ":memory:"):
        return None
    return Path(url.database).expanduser().absolute()


def default_folder() -> Path:
    """The folder of the default database (`data/` under the current directory): the only one Banter creates."""
    return sqlite_path(make_url(DEFAULT_URL)).parent


def check_sqlite_file(path: Path) -> None:
    """Refuse a file that is not an SQLite database before SQLite can touch it, and a folder that is not there.

    A typo in the URL must not quietly create folders (at the filesystem root, even): only the default
    `data/` is made.
    """
    if path.exists() and path.stat().st_size > 0:
        with path.open("rb") as fh:
            header = fh.read(len(SQLITE_MAGIC))
        if header != SQLITE_MAGIC:
            raise NotADatabaseError(
                f"{path} exists but is not an SQLite database; refusing to use or overwrite it. "
                "Point [storage] url or BANTER_DATABASE_URL at another file."
            )
    if path.parent.is_dir():
        return
    if path.parent != default_folder():
        raise StorageError(
            f"the folder {path.parent} for the database does not exist: create it, or correct "
            "[storage] url / BANTER_DATABASE_URL"
        )
    path.parent.mkdir()


@dataclass(frozen=True, slots=True)
class Engines:
    """A writer engine and a reader engine; on PostgreSQL they are the same one."""

    url: URL
    writer: AsyncEngine
    reader: AsyncEngine

    @property
    def dialect(self) -> str:
        return self.url.get_backend_name()

    async def dispose(self) -> None:
        await self.writer.dispose()
        if self.reader is not self.writer:
            await self.reader.dispose()


def _sqlite_engine(url: URL, busy_timeout_ms: int, begin: str, **kwargs) -> AsyncEngine:
    engine = create_async_engine(url, connect_args={"timeout": busy_timeout_ms / 1000}, **kwargs)

    @event.listens_for(engine.sync_engine, "connect")
    def _on_connect(dbapi_conn, _record) -> None:
        # Let SQLAlchemy, not the driver, decide where transactions begin (see "begin" below).
        dbapi_conn.isolation_level = None
        cursor = dbapi_conn.cursor()
        for pragma in (
            "journal_mode=WAL",  # readers never block the writer
            "foreign_keys=ON",
            f"busy_timeout={int(busy_timeout_ms)}",
            # FULL: each commit is fsynced, so a logged message survives a power cut.
            "synchronous=FULL",
            # Deleted rows are overwritten with zeros, not just unlinked: forget-me must leave no
            # text in free pages (many builds, though not all, compile this in as the default).
            "secure_delete=ON",
        ):
            cursor.execute(f"PRAGMA {pragma}")
        cursor.close()

    @event.listens_for(engine.sync_engine, "begin")
    def _on_begin(conn) -> None:
        # The writer takes the write lock up front (IMMEDIATE): a deferred transaction that
        # reads and then writes can fail at once with SQLITE_BUSY instead of waiting.
        conn.exec_driver_sql(begin)

    return engine


async def empty_wal(engine: AsyncEngine) -> bool:
    """Copy SQLite's write-ahead log into the database and truncate it to 0 bytes. True if it is empty.

    The log keeps old copies of pages, deleted text included, until a checkpoint: after a deletion
    people asked for, this is what makes the text leave the disk. It must run outside a transaction
    (SQLAlchemy would open one before any statement), so it goes to the DBAPI connection directly.
    """

    def checkpoint(sync_conn) -> bool:
        cursor = sync_conn.connection.dbapi_connection.cursor()
        try:
            cursor.execute("PRAGMA wal_checkpoint(TRUNCATE)")
            busy, _, _ = cursor.fetchone()
        finally:
            cursor.close()
        return busy == 0  # 1: a reader or writer held on past busy_timeout

    async with engine.connect() as conn:
        return await conn.run_sync(checkpoint)


def create_engines(url: str | URL, *, busy_timeout_ms: int = 5000, echo: bool = False) -> Engines:
    parsed = normalise_url(str(url) if isinstance(url, URL) else url)
    path = sqlite_path(parsed)
    if parsed.get_backend_name() == "sqlite":
        if path is None:
            raise StorageError("in-memory SQLite cannot be shared by the writer and readers; use a file")
        check_sqlite_file(path)
        parsed = parsed.set(database=str(path))
        writer = _sqlite_engine(parsed, busy_timeout_ms, "BEGIN IMMEDIATE", echo=echo, pool_size=1, max_overflow=0)
        reader = _sqlite_engine(parsed, busy_timeout_ms, "BEGIN", echo=echo)
        return Engines(parsed, writer, reader)
    engine = create_async_engine(parsed, echo=echo, pool_pre_ping=True)
    return Engines(parsed, engine, engine)


def is_lock_error(exc: BaseException) -> bool:
    """True for 'the database is busy, try again' on either backend."""
    if isinstance(exc, OperationalError):
        text = str(exc.orig).lower()
        if "database is locked" in text or "database is busy" in text or "database table is locked" in text:
            return True
    if isinstance(exc, DBAPIError):
        state = getattr(exc.orig, "sqlstate", None) or getattr(getattr(exc.orig, "__cause__", None), "sqlstate", None)
        return state in _PG_RETRY_STATES
    return False


def is_not_a_database(exc: BaseException) -> bool:
    """True when SQLite finds no usable database in the file: not one at all, or a damaged (truncated) one."""
    text = str(exc.orig).lower() if isinstance(exc, DBAPIError) else ""
    return "file is not a database" in text or "database disk image is malformed" in text


def not_a_database(url: URL, exc: DBAPIError) -> NotADatabaseError:
    """The clear error for a file SQLite cannot use; the file itself is left as it is."""
    return NotADatabaseError(
        f"{url.database} is damaged or not an SQLite database ({exc.orig}); it was left as it is: restore it "
        "from a backup, or point [storage] url / BANTER_DATABASE_URL at another file"
    )


def insert_ignoring_duplicates(conn_dialect: str, table):
    """INSERT ... ON CONFLICT DO NOTHING on either backend: how writes stay idempotent."""
    insert = pg_insert if conn_dialect == "postgresql" else sqlite_insert
    return insert(table).on_conflict_do_nothing()
