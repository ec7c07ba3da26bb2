"""Export for training: new pairs plus a replay sample of older ones, streamed to JSONL files."""

from __future__ import annotations

import asyncio
import hashlib
import json
import os
import re
from collections import Counter
from dataclasses import dataclass
from pathlib import Path

from sqlalchemy import ColumnElement, and_, func, or_, select
from sqlalchemy.ext.asyncio import AsyncEngine

from .config import LearningFilters
from .models import OptOut, Pair
from .training import last_watermark

TRAIN_FILE, VALIDATION_FILE = "train.jsonl", "validation.jsonl"
CHUNK = 5000
# The replay sample is a window of hash buckets, computed in SQL so unsampled rows never travel.
_BUCKETS = 1_000_000


@dataclass(frozen=True, slots=True)
class ExportCounts:
    new: int  # pairs added since the last successful run, written
    replay: int  # older pairs written again so the model does not forget them
    train: int
    validation: int
    dropped: int  # read but filtered out in Python (blocklist, per-user share)
    watermark: int  # the highest pair id considered: record it with the run
    train_path: Path
    validation_path: Path


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


def _blocklist(words: tuple[str, ...]) -> re.Pattern[str] | None:
    words = tuple(w for w in words if w.strip())
    if not words:
        return None
    return re.compile(r"(?<!\w)(?:" + "|".join(re.escape(w) for w in words) + r")(?!\w)", re.IGNORECASE)


async def _count(conn, where) -> int:
    return await conn.scalar(select(func.count()).select_from(Pair).where(where))


async def export_pairs(
    engine: AsyncEngine, out_dir: str | os.PathLike[str], filters: LearningFilters, *, seed: int = 0
) -> ExportCounts:
    """Write train.jsonl and validation.jsonl under out_dir; memory stays flat in the number of pairs."""
    out = Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)
    blocked = _blocklist(filters.blocklist)
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
        counts = {"new": 0, "replay": 0, "train": 0, "validation": 0, "dropped": 0}
        tmp_train, tmp_valid = out / f".{TRAIN_FILE}.tmp", out / f".{VALIDATION_FILE}.tmp"
        try:
            with tmp_train.open("w", encoding="utf-8") as train, tmp_valid.open("w", encoding="utf-8") as valid:
                result = await conn.stream(query)
                async for rows in result.partitions(CHUNK):
                    # Formatting and writing off the event loop: the bot keeps answering meanwhile.
                    await asyncio.to_thread(
                        _write_chunk,
                        rows,
                        lower,
                        filters.validation_fraction,
                        keep_share,
                        blocked,
                        train,
                        valid,
                        counts,
                    )
        except BaseException:
            tmp_train.unlink(missing_ok=True)
            tmp_valid.unlink(missing_ok=True)
            raise
        # Renamed into place only when complete: a reader never sees half an export.
        tmp_train.replace(out / TRAIN_FILE)
        tmp_valid.replace(out / VALIDATION_FILE)
    return ExportCounts(**counts, watermark=upper, train_path=out / TRAIN_FILE, validation_path=out / VALIDATION_FILE)


def _write_chunk(rows, lower, validation_fraction, keep_share, blocked, train, valid, counts) -> None:
    train_lines, valid_lines = [], []
    for pair_id, conversation, context, query, reply, author, text_hash in rows:
        share = keep_share.get(author)
        if (share is not None and _unit(text_hash, b"share") >= share) or (
            blocked is not None and (blocked.search(query) or blocked.search(reply))
        ):
            counts["dropped"] += 1
            continue
        counts["new" if pair_id > lower else "replay"] += 1
        # seq2seq's fine-tune pair: query, reply, the turn before the query, and the conversation
        # as "group" (its own held-out split hashes that too).
        record = {"query": query, "reply": reply, "context": context, "group": str(conversation)}
        if not context:
            del record["context"]
        line = json.dumps(record, ensure_ascii=False)
        # Split by conversation, not by pair: no validation reply is ever a training query.
        if _unit(conversation, b"split") < validation_fraction:
            valid_lines.append(line)
        else:
            train_lines.append(line)
    counts["train"] += len(train_lines)
    counts["validation"] += len(valid_lines)
    for fh, lines in ((train, train_lines), (valid, valid_lines)):
        if lines:
            fh.write("\n".join(lines) + "\n")
