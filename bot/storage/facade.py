"""Storage: the one object the bot's cogs call; it opens the database and routes every call."""

from __future__ import annotations

import logging
import os
from collections.abc import Iterable
from contextlib import AbstractAsyncContextManager
from datetime import datetime
from typing import Any

from sqlalchemy import select
from sqlalchemy.exc import DBAPIError

from . import audit, export, locks, messages, privacy, settings, training
from .config import LearningFilters, StorageConfig, load_config
from .engine import Engines, create_engines, empty_wal, is_lock_error, is_not_a_database, not_a_database
from .errors import DatabaseLockedError
from .messages import Caches, LogResult, MessageRules
from .migrate import upgrade
from .models import OptOut, RunStatus
from .pairs import IncomingMessage
from .writer import Backlog, Writer

log = logging.getLogger(__name__)

_MAX_ID = 2**63 - 1
_BATCH = 500


def _check_id(name: str, value: Any) -> int:
    # Discord ids are unsigned 64-bit in theory, below 2**63 in practice; BIGINT is signed.
    if isinstance(value, bool) or not isinstance(value, int) or not 0 < value <= _MAX_ID:
        raise ValueError(f"{name} must be a positive 64-bit integer, got {value!r}")
    return value


def _check_message(msg: IncomingMessage) -> IncomingMessage:
    for name in ("id", "guild_id", "channel_id", "author_id"):
        _check_id(name, getattr(msg, name))
    if msg.reply_to_id is not None:
        _check_id("reply_to_id", msg.reply_to_id)
    if not isinstance(msg.content, str):
        raise TypeError("content must be a str")
    if msg.created_at.tzinfo is None:
        raise ValueError("created_at must be timezone-aware (discord.py's are)")
    return msg


class Storage:
    """Banter's storage. Writes go through one writer task and are durable when the call returns.

    Several processes (bot shards) may share one database. Each write reads opt-outs and the
    messages it pairs with from the database; guild settings are cached, since one shard gets
    all of a guild's events and commands.
    """

    def __init__(self, engines: Engines, config: StorageConfig, caches: Caches):
        self.config = config
        self._engines = engines
        self._caches = caches
        self._rules = MessageRules(config.pair_window_seconds, tuple(config.command_prefixes))
        self._writer = Writer(
            engines.writer, lock_retries=config.lock_retries, max_batch=_BATCH, max_backlog=config.write_backlog
        )

    @classmethod
    async def open(
        cls, url: str | None = None, *, config: StorageConfig | None = None, migrate: bool = True
    ) -> Storage:
        """Open (and by default `alembic upgrade head`) the database from `url`, or config.toml / env."""
        config = (config or load_config()).with_url(url)
        engines = create_engines(config.url, busy_timeout_ms=config.busy_timeout_ms)
        try:
            if migrate:
                await upgrade(engines.writer)
            async with engines.reader.connect() as conn:
                opted_out = set((await conn.execute(select(OptOut.user_id))).scalars())
        except BaseException as exc:
            await engines.dispose()
            if isinstance(exc, DBAPIError) and is_not_a_database(exc):
                raise not_a_database(engines.url, exc) from exc
            if isinstance(exc, DBAPIError) and is_lock_error(exc):
                raise DatabaseLockedError(
                    f"database {engines.url.render_as_string(hide_password=True)} is locked by another process"
                ) from exc
            raise
        storage = cls(engines, config, Caches(opted_out=opted_out))
        storage._writer.start()
        return storage

    async def close(self) -> None:
        await self._writer.close()
        await self._engines.dispose()

    async def __aenter__(self) -> Storage:
        return self

    async def __aexit__(self, *exc) -> None:
        await self.close()

    @property
    def dialect(self) -> str:
        return self._engines.dialect

    @property
    def write_backlog(self) -> Backlog:
        """Writes waiting to be committed, and since when the database has been locked (None: it is not)."""
        return self._writer.backlog

    async def _write(self, fn, *args, **kwargs):
        async def handler(conn, _items, hooks):
            return [await fn(conn, *args, hooks=hooks, caches=self._caches, **kwargs)]

        return await self._writer.submit(handler)

    async def _plain_write(self, fn, *args, **kwargs):
        async def handler(conn, _items, _hooks):
            return [await fn(conn, *args, **kwargs)]

        return await self._writer.submit(handler)

    async def _erase(self, fn, *args, only_if_changed: bool = False, **kwargs):
        """A write that deletes or replaces people's data: once committed, it leaves the disk too."""
        result = await self._write(fn, *args, **kwargs)
        if result or not only_if_changed:
            await self._empty_wal()
        return result

    async def _empty_wal(self) -> None:
        # SQLite keeps the old pages in its write-ahead log until a checkpoint, deleted text included.
        # (PostgreSQL: deleted rows are invisible at once; autovacuum reclaims their space.)
        if self.dialect != "sqlite":
            return
        try:
            emptied = await empty_wal(self._engines.writer)
        except DBAPIError as exc:
            emptied, reason = False, str(exc.orig)
        else:
            reason = "another connection held on to the database"
        if not emptied:
            log.warning(
                "deleted, but could not empty the write-ahead log now (%s): old copies of the text stay in "
                "%s-wal until the next deletion or restart empties it",
                reason,
                self._engines.url.database,
            )

    async def _read(self, fn, *args, **kwargs):
        async with self._engines.reader.connect() as conn:
            return await fn(conn, *args, **kwargs)

    # Messages -------------------------------------------------------------------------------

    async def _log_handler(self, conn, items, hooks):
        return await messages.log_batch(conn, items, hooks, caches=self._caches, rules=self._rules)

    async def _log_chunk_handler(self, conn, chunks, hooks):
        # A log_messages job: its one item is a whole chunk of messages (and a backfill's own tails).
        chunk, tails = chunks[0]
        return [await messages.log_batch(conn, chunk, hooks, caches=self._caches, rules=self._rules, tails=tails)]

    async def log_message(self, message: IncomingMessage) -> LogResult:
        """Store a message seen in a learning channel and the pair it completes. Idempotent."""
        return await self._writer.submit(self._log_handler, _check_message(message), batchable=True)

    async def log_messages(self, batch: Iterable[IncomingMessage], *, backfill: bool = False) -> list[LogResult]:
        """Many messages in stream order; same rules as log_message.

        backfill=True: a channel's history, oldest first. It is paired within itself, apart from the
        live stream: live tails are newer, so each old message would otherwise look late and unpaired.
        """
        items = [_check_message(m) for m in batch]
        results: list[LogResult] = []
        tails: dict | None = {} if backfill else None  # this backfill's own channel tails, across chunks
        # One job per _BATCH messages, not one per message: a third faster for a backfill, and
        # the transactions stay bounded (SQLite caps a statement's parameters).
        for start in range(0, len(items), _BATCH):
            chunk = items[start : start + _BATCH]
            results += await self._writer.submit(self._log_chunk_handler, (chunk, tails))
        return results

    async def apply_edit(self, message_id: int, content: str, edited_at: datetime | None = None) -> bool:
        """A message was edited: update it and its pairs. False if it was never stored."""
        return await self._erase(
            messages.apply_edit,
            _check_id("message_id", message_id),
            content,
            edited_at,
            rules=self._rules,
            only_if_changed=True,
        )

    async def apply_bulk_delete(self, message_ids: Iterable[int]) -> int:
        ids = {_check_id("message_id", i) for i in message_ids}

        async def delete(conn, hooks, caches):
            hooks.append(
                lambda: caches.forget_tails(lambda t: t.id in ids, forget_context=lambda t: t.answered_id in ids)
            )
            return await messages.delete_messages(conn, ids)

        return await self._erase(delete, only_if_changed=True)

    # Privacy --------------------------------------------------------------------------------

    async def opt_out(self, user_id: int) -> int:
        """Purge everything of the user's and log nothing of theirs again. Returns messages removed."""
        return await self._erase(privacy.opt_out, _check_id("user_id", user_id))

    async def opt_in(self, user_id: int) -> bool:
        return await self._write(privacy.opt_in, _check_id("user_id", user_id))

    def is_opted_out(self, user_id: int) -> bool:
        return user_id in self._caches.opted_out

    async def forget_user(self, user_id: int) -> int:
        """Delete the user's data without opting them out. Returns messages removed."""
        return await self._erase(privacy.forget_user, _check_id("user_id", user_id))

    async def export_user_data(self, user_id: int) -> dict[str, Any]:
        """All stored data about the user, ready for json.dumps."""
        return await self._read(privacy.export_user_data, _check_id("user_id", user_id))

    async def purge_guild(self, guild_id: int) -> int:
        return await self._erase(privacy.purge_guild, _check_id("guild_id", guild_id))

    async def handle_guild_leave(self, guild_id: int) -> bool:
        """Call when the bot leaves a guild: purges it if [storage] purge_on_guild_leave. True if purged."""
        if not self.config.purge_on_guild_leave:
            return False
        await self.purge_guild(guild_id)
        return True

    # Guild settings and audit ---------------------------------------------------------------

    async def get_guild_settings(self, guild_id: int) -> settings.GuildSettings:
        cached = self._caches.settings.get(guild_id)
        if cached is not None:
            return cached
        return (await self._read(settings.load_settings, [_check_id("guild_id", guild_id)]))[guild_id]

    async def update_guild_settings(
        self, guild_id: int, *, actor_id: int | None = None, **changes
    ) -> settings.GuildSettings:
        """Change some of enabled, reply_chance, cooldown_seconds, learning_channels, reply_channels."""
        _check_id("guild_id", guild_id)

        async def update(conn, hooks, caches):
            current = (await settings.load_settings(conn, [guild_id]))[guild_id]
            new = current.changed(**changes)
            await settings.save_settings(conn, new)
            details = {
                k: sorted(map(str, v)) if isinstance(v, frozenset | set | list | tuple) else v
                for k, v in changes.items()
                if v is not None
            }
            await audit.record(conn, "settings.update", guild_id=guild_id, actor_id=actor_id, details=details)
            hooks.append(lambda: caches.settings.__setitem__(guild_id, new))
            return new

        return await self._write(update)

    async def record_audit(
        self,
        action: str,
        *,
        guild_id: int | None = None,
        actor_id: int | None = None,
        target_id: int | None = None,
        details: dict[str, Any] | None = None,
    ) -> None:
        await self._plain_write(
            audit.record, action, guild_id=guild_id, actor_id=actor_id, target_id=target_id, details=details
        )

    async def audit_log(self, guild_id: int | None = None, limit: int = 50) -> list[audit.AuditRecord]:
        return await self._read(audit.read, guild_id=guild_id, limit=limit)

    # Across processes (bot shards on one database) ----------------------------------------------

    def exclusive(self, name: str) -> AbstractAsyncContextManager[bool]:
        """`async with storage.exclusive("finetune") as held:` held is False, at once, while any other
        process (or Storage) on this database holds `name`. A process that dies lets go of it."""
        return locks.exclusive(self._engines, name)

    async def lock_held(self, name: str) -> bool:
        """Whether anyone, this process included, holds the lock `name` now."""
        return await locks.is_held(self._engines, name)

    # Training -------------------------------------------------------------------------------

    async def pair_counts(self, guild_id: int | None = None) -> training.PairCounts:
        return await self._read(training.pair_counts, guild_id)

    async def start_training_run(self, triggered_by: int | None = None) -> int:
        run_id = await self._plain_write(training.start_run, triggered_by)
        await self.record_audit("training.start", actor_id=triggered_by, details={"run": run_id})
        return run_id

    async def finish_training_run(
        self, run_id: int, status: RunStatus | str, *, metrics: dict[str, Any] | None = None, error: str | None = None
    ) -> None:
        await self._plain_write(training.finish_run, run_id, RunStatus(status), metrics, error)

    async def get_training_run(self, run_id: int) -> training.TrainingRunInfo | None:
        return await self._read(training.get_run, run_id)

    async def training_runs(self, limit: int = 20) -> list[training.TrainingRunInfo]:
        return await self._read(training.list_runs, limit)

    async def export_training_pairs(
        self,
        out_dir: str | os.PathLike[str],
        *,
        run_id: int | None = None,
        seed: int | None = None,
        filters: LearningFilters | None = None,
    ) -> export.ExportCounts:
        """New pairs since the last successful run plus a replay sample, as one JSONL file (counts.path).

        With run_id, the run records the export's watermark: once it succeeds, those pairs are old.
        `filters` defaults to config.toml's [learning]; the replay sample's seed to the run id.
        """
        counts = await export.export_pairs(
            self._engines.reader,
            out_dir,
            filters or self.config.learning,
            seed=seed if seed is not None else (run_id or 0),
        )
        if run_id is not None:
            await self._plain_write(training.record_export, run_id, counts.watermark, counts.new, counts.replay)
        return counts
