"""Export for training: new pairs plus a replay sample of older ones, streamed to one JSONL file.

The worker makes the one train/held-out split, by the conversation each line carries as "group".
"""

from __future__ import annotations

import asyncio
import hashlib
import json
import os
from collections import Counter
from dataclasses import dataclass
from pathlib import Path

from sqlalchemy import ColumnElement, and_, func, or_, select
from sqlalchemy.ext.asyncio import AsyncEngine

from seq2seq.protocol.blocklist import Blocklist

from .config import LearningFilters
from .models import OptOut, Pair
from .training import last_watermark

PAIRS_FILE = "pairs.jsonl"
CHUNK = 5000
# The replay sample is a window of hash buckets, computed in SQL so unsampled rows never travel.
_BUCKETS = 1_000_000


@dataclass(frozen=True, slots=True)
class ExportCounts:
    new: int  # pairs added since the last successful run, written
    replay: int  # older pairs written again so the model does not forget them
    dropped: int  # read but filtered out in Python (blocklist, per-user share)
    watermark: int  # the highest pair id considered: record it with the run
    path: Path  # the JSONL file: one {"query", "reply", "context"?, "group"} a line

    @property
    def pairs(self) -> int:
        return self.new + self.replay


def _unit(value: int, salt: bytes) -> float:
    """A stable number in [0, 1) from an integer: the same pair or conversation, the same answer."""
    digest = hashlib.blake2b(value.to_bytes(8, "big", signed=True), digest_size=8, key=salt).digest()
    return int.from_bytes(digest, "big") / 2**64


def _bucket_window(seed: int, fraction: float) -> ColumnElement[bool]:
    """Pairs whose hash bucket falls in a seed-dependent window covering `fraction` of buckets."""
    width = round(min(max(fraction, 0.0), 1.0) * _BUCKETS)
    offset = (seed * 7919) % _BUCKETS
    bucket = func.abs(Pair.text_hash % _BUCKETS)
    return (bucket - offset + _BUCKETS) % _BUCKETS < width


def _sql_filters(filters: LearningFilters) -> ColumnElement[bool]:
    opted_out = select(OptOut.user_id)
    return and_(
        func.length(Pair.query_text).between(filters.min_chars, filters.max_chars),
        func.length(Pair.reply_text).between(filters.min_chars, filters.max_chars),
        Pair.query_author_id.not_in(opted_out),
        Pair.reply_author_id.not_in(opted_out),
    )


async def _count(conn, where) -> int:
    return await conn.scalar(select(func.count()).select_from(Pair).where(where))


async def export_pairs(
    engine: AsyncEngine, out_dir: str | os.PathLike[str], filters: LearningFilters, *, seed: int = 0
) -> ExportCounts:
    """Write pairs.jsonl under out_dir; memory stays flat in the number of pairs."""
    out = Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)
    blocked = Blocklist(filters.blocklist)
    async with engine.connect() as conn:
        lower = await last_watermark(conn)
        upper = int(await conn.scalar(select(func.coalesce(func.max(Pair.id), 0))))
        base = _sql_filters(filters)
        is_new = and_(Pair.id > lower, Pair.id <= upper)
        n_new = await _count(conn, and_(is_new, base))
        n_old = await _count(conn, and_(Pair.id <= lower, base)) if lower else 0
        fraction = min(1.0, filters.replay_fraction * n_new / n_old) if n_old else 0.0
        # One range on the primary key, the rest a filter: an OR of two id ranges would make SQLite
        # collect every matching row id in memory to union them.
        chosen = and_(Pair.id <= upper, base, or_(Pair.id > lower, _bucket_window(seed, fraction)))

        keep_share: dict[int, float] = {}
        if filters.max_share_per_user is not None:
            # Counted while streaming, not with GROUP BY: SQLite would sort every row in memory first.
            per_user: Counter[int] = Counter()
            authors = await conn.stream(
                select(Pair.reply_author_id).where(chosen).order_by(Pair.id).execution_options(yield_per=CHUNK)
            )
            async for rows in authors.partitions(CHUNK):
                per_user.update(row[0] for row in rows)
            total = sum(per_user.values())
            # With fewer than 1/max_share people nobody can stay under the cap: then the cap is an equal share.
            cap = max(filters.max_share_per_user * total, total / max(len(per_user), 1))
            keep_share = {user: cap / n for user, n in per_user.items() if n > cap}

        query = (
            select(
                Pair.id,
                Pair.conversation_id,
                Pair.context_text,
                Pair.query_text,
                Pair.reply_text,
                Pair.reply_author_id,
                Pair.text_hash,
            )
            .where(chosen)
            .order_by(Pair.id)
            .execution_options(yield_per=CHUNK)
        )
        counts = {"new": 0, "replay": 0, "dropped": 0}
        tmp = out / f".{PAIRS_FILE}.tmp"
        try:
            with tmp.open("w", encoding="utf-8") as handle:
                result = await conn.stream(query)
                async for rows in result.partitions(CHUNK):
                    # Formatting and writing off the event loop: the bot keeps answering meanwhile.
                    await asyncio.to_thread(_write_chunk, rows, lower, keep_share, blocked, handle, counts)
        except BaseException:
            tmp.unlink(missing_ok=True)
            raise
        # Renamed into place only when complete: a reader never sees half an export.
        tmp.replace(out / PAIRS_FILE)
    return ExportCounts(**counts, watermark=upper, path=out / PAIRS_FILE)


def _write_chunk(rows, lower, keep_share, blocked: Blocklist, handle, counts) -> None:
    lines = []
    for pair_id, conversation, context, query, reply, author, text_hash in rows:
        share = keep_share.get(author)
        if (
            (share is not None and _unit(text_hash, b"share") >= share)
            or blocked.matches(query)
            or blocked.matches(reply)
        ):
            counts["dropped"] += 1
            continue
        counts["new" if pair_id > lower else "replay"] += 1
        # seq2seq's fine-tune pair: query, reply, the turn before the query, and the conversation as
        # "group": the worker holds out whole conversations, so no held-out reply is a training query.
        record = {"query": query, "reply": reply, "context": context, "group": str(conversation)}
        if not context:
            del record["context"]
        lines.append(json.dumps(record, ensure_ascii=False))
    if lines:
        handle.write("\n".join(lines) + "\n")
