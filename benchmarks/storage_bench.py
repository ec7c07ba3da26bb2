"""Storage benchmark: ingest with pair extraction, export of many pairs, bytes on disk per message.

    python benchmarks/storage_bench.py                       # SQLite only
    python benchmarks/storage_bench.py --postgres-url postgresql+asyncpg://banter:banter@127.0.0.1:5432/banter
    python benchmarks/storage_bench.py --json bench-results/storage.json --export-pairs 1000000

PostgreSQL runs in a database of its own (banter_bench, created and dropped here; the role needs
CREATEDB, which scripts/start-postgres.sh grants). Figures move with the machine's load: compare
within one run. This is never a timed unit test.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import platform
import random
import resource
import sqlite3
import subprocess
import sys
import tempfile
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))

from sqlalchemy import text  # noqa: E402
from sqlalchemy.ext.asyncio import create_async_engine  # noqa: E402

from bot.storage import IncomingMessage, LearningFilters, Storage, StorageConfig  # noqa: E402
from bot.storage.engine import normalise_url  # noqa: E402
from bot.storage.pairs import conversation_key, pair_hash  # noqa: E402

GUILD = 900_000_000_000_000_001
CHANNELS = [800_000_000_000_000_000 + i for i in range(20)]
T0 = datetime(2025, 1, 1, tzinfo=UTC)
WORDS = (
    "hello how are you doing today what about that game last night lol yes no maybe "
    "i think so really nice cool thanks see you later good morning evening friend"
).split()


def messages(n: int, seed: int = 1, start_id: int = 10**17) -> list[IncomingMessage]:
    """A busy guild: 20 channels, 300 people, a message every few seconds, some explicit replies."""
    rng = random.Random(seed)
    out, last_in = [], {}
    for i in range(n):
        channel = rng.choice(CHANNELS)
        reply_to = last_in.get(channel) if rng.random() < 0.1 else None
        text = " ".join(rng.choices(WORDS, k=rng.randint(3, 14))) + f" {i}"
        if rng.random() < 0.03:
            text = "!cmd " + text
        mid = start_id + i
        out.append(
            IncomingMessage(
                mid, GUILD, channel, 1000 + rng.randrange(300), text, T0 + timedelta(seconds=i * 0.25), reply_to
            )
        )
        last_in[channel] = mid
    return out


async def open_store(url: str) -> Storage:
    store = await Storage.open(config=StorageConfig(url=url))
    await store.update_guild_settings(GUILD, learning_channels=CHANNELS)
    return store


async def ingest(url: str, n: int, mode: str, seed: int) -> dict:
    """mode: 'concurrent' (up to 256 log_message calls in flight, as gateway events arrive),
    'sequential' (each call awaited: one commit per message), or 'backfill' (log_messages)."""
    store = await open_store(url)
    batch = messages(n, seed=seed, start_id=10**17 + seed * 10**9)
    started = time.perf_counter()
    if mode == "sequential":
        results = [await store.log_message(m) for m in batch]
    elif mode == "concurrent":
        results = []
        for i in range(0, n, 256):
            results += await asyncio.gather(*(store.log_message(m) for m in batch[i : i + 256]))
    else:
        results = await store.log_messages(batch)
    seconds = time.perf_counter() - started
    counts = await store.pair_counts()
    await store.close()
    stored = sum(r.stored for r in results)
    return {
        "mode": mode,
        "messages": n,
        "stored": stored,
        "pairs_total": counts.total,
        "seconds": round(seconds, 3),
        "messages_per_s": round(n / seconds),
    }


def sqlite_bytes(path: Path) -> int:
    conn = sqlite3.connect(path)
    conn.execute("PRAGMA wal_checkpoint(TRUNCATE)")
    conn.close()
    return path.stat().st_size


async def postgres_bytes(url: str) -> tuple[int, int]:
    engine = create_async_engine(normalise_url(url))
    async with engine.connect() as conn:
        msgs = await conn.scalar(text("SELECT pg_total_relation_size('messages')"))
        pairs = await conn.scalar(text("SELECT pg_total_relation_size('pairs')"))
    await engine.dispose()
    return msgs, pairs


async def count(url: str, table: str) -> int:
    engine = create_async_engine(normalise_url(url))
    async with engine.connect() as conn:
        n = await conn.scalar(text(f"SELECT count(*) FROM {table}"))
    await engine.dispose()
    return n


async def bench_backend(name: str, url: str, n: int, n_sequential: int) -> dict:
    out = {"ingest": []}
    # Each mode writes its own messages into the same database; sizes are measured at the end.
    out["ingest"].append(await ingest(url, n, "concurrent", seed=1))
    out["ingest"].append(await ingest(url, n_sequential, "sequential", seed=2))
    out["ingest"].append(await ingest(url, n, "backfill", seed=3))
    stored = await count(url, "messages")
    if name == "sqlite":
        size = sqlite_bytes(Path(normalise_url(url).database))
        out["disk"] = {"messages": stored, "database_bytes": size, "bytes_per_message": round(size / stored)}
    else:
        msg_bytes, pair_bytes = await postgres_bytes(url)
        out["disk"] = {
            "messages": stored,
            "messages_table_bytes": msg_bytes,
            "pairs_table_bytes": pair_bytes,
            "bytes_per_message": round((msg_bytes + pair_bytes) / stored),
        }
    out["disk"]["includes"] = "message row, its pair (text snapshots), all indexes"
    return out


def synthetic_text(i: int) -> str:
    return f"{' '.join(WORDS[(i * 7 + k) % len(WORDS)] for k in range(6))} {i}"


async def build_pairs_db(path: Path, n_pairs: int) -> None:
    """A SQLite database with n_pairs pairs in chains of 8, written directly (setup, not measured)."""
    store = await Storage.open(config=StorageConfig(url=f"sqlite+aiosqlite:///{path}"))
    await store.close()
    conn = sqlite3.connect(path)
    conn.execute("PRAGMA synchronous=OFF")
    base, ts = 10**17, "2025-01-01 00:00:00.000000"
    step = 100_000
    for start in range(0, n_pairs + 1, step):
        ids = range(start, min(start + step, n_pairs + 1))
        texts = {i: synthetic_text(i) for i in range(max(start - 1, 0), ids.stop)}
        conn.executemany(
            "INSERT INTO messages (id, guild_id, channel_id, author_id, content, created_at, is_own) "
            "VALUES (?, ?, ?, ?, ?, ?, 0)",
            [(base + i, GUILD, CHANNELS[0], 1000 + i % 300, texts[i], ts) for i in ids],
        )
        rows = []
        for i in ids:
            if i == 0:
                continue
            q, r = texts[i - 1], texts[i]
            rows.append(
                (
                    GUILD,
                    CHANNELS[0],
                    conversation_key(base + (i - 1) // 8 * 8),
                    base + i - 1,
                    base + i,
                    1000 + (i - 1) % 300,
                    1000 + i % 300,
                    q,
                    r,
                    "adjacent",
                    pair_hash(q, r),
                    ts,
                )
            )
        conn.executemany(
            "INSERT INTO pairs (guild_id, channel_id, conversation_id, query_message_id, reply_message_id, "
            "query_author_id, reply_author_id, query_text, reply_text, kind, text_hash, created_at) "
            "VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
            rows,
        )
        conn.commit()
    conn.close()


def rss_kib(field: str) -> int:
    """VmRSS / VmHWM of this process's memory (ru_maxrss would include the forking parent's)."""
    for line in Path("/proc/self/status").read_text().splitlines():
        if line.startswith(field + ":"):
            return int(line.split()[1])
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss


async def export_child(url: str, out_dir: str) -> dict:
    """Runs in a fresh process so that its peak RSS is the export's own."""
    store = await Storage.open(config=StorageConfig(url=url))
    rss_before = rss_kib("VmRSS")
    try:
        Path("/proc/self/clear_refs").write_text("5")  # restart the peak (VmHWM) from here
    except OSError:
        pass
    started = time.perf_counter()
    counts = await store.export_training_pairs(out_dir, filters=LearningFilters(max_share_per_user=0.10))
    seconds = time.perf_counter() - started
    await store.close()
    return {
        "seconds": round(seconds, 2),
        "pairs_written": counts.pairs,
        "rss_before_mib": round(rss_before / 1024, 1),
        "peak_rss_mib": round(rss_kib("VmHWM") / 1024, 1),
        "output_bytes": counts.path.stat().st_size,
    }


def bench_export(work: Path, sizes: list[int]) -> list[dict]:
    results = []
    for n in sizes:
        db = work / f"export-{n}.db"
        started = time.perf_counter()
        asyncio.run(build_pairs_db(db, n))
        setup = time.perf_counter() - started
        out = subprocess.run(
            [sys.executable, __file__, "--export-child", f"sqlite+aiosqlite:///{db}", str(work / f"out-{n}")],
            check=True,
            capture_output=True,
            text=True,
        )
        row = {"pairs": n, "setup_seconds": round(setup, 1), **json.loads(out.stdout)}
        results.append(row)
        db.unlink()
        for p in (work / f"out-{n}").glob("*"):
            p.unlink()
    return results


async def with_bench_database(admin_url: str):
    url = normalise_url(admin_url)
    engine = create_async_engine(url, isolation_level="AUTOCOMMIT")
    async with engine.connect() as conn:
        await conn.execute(text("DROP DATABASE IF EXISTS banter_bench"))
        await conn.execute(text("CREATE DATABASE banter_bench"))
    await engine.dispose()
    return url.set(database="banter_bench").render_as_string(hide_password=False), url


async def drop_bench_database(url) -> None:
    engine = create_async_engine(url, isolation_level="AUTOCOMMIT")
    async with engine.connect() as conn:
        await conn.execute(text("DROP DATABASE IF EXISTS banter_bench"))
    await engine.dispose()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--messages", type=int, default=20_000, help="messages per concurrent/backfill run")
    parser.add_argument("--sequential", type=int, default=2_000, help="messages in the one-at-a-time run")
    parser.add_argument("--export-pairs", type=int, nargs="*", default=[100_000, 1_000_000])
    parser.add_argument("--postgres-url", default=os.environ.get("BANTER_BENCH_POSTGRES_URL"))
    parser.add_argument("--json", type=Path, help="also write the figures here")
    parser.add_argument("--export-child", nargs=2, metavar=("URL", "OUT"), help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.export_child:
        print(json.dumps(asyncio.run(export_child(*args.export_child))))
        return

    report = {
        "machine": {
            "python": platform.python_version(),
            "cpus": os.cpu_count(),
            "sqlite": sqlite3.sqlite_version,
            "load_average_at_start": os.getloadavg(),
            "when": datetime.now(UTC).isoformat(),
        }
    }
    with tempfile.TemporaryDirectory(prefix="banter-bench-") as tmp:
        work = Path(tmp)
        report["sqlite"] = asyncio.run(
            bench_backend("sqlite", f"sqlite+aiosqlite:///{work / 'ingest.db'}", args.messages, args.sequential)
        )
        if args.postgres_url:
            bench_url, admin = asyncio.run(with_bench_database(args.postgres_url))
            try:
                report["postgresql"] = asyncio.run(
                    bench_backend("postgresql", bench_url, args.messages, args.sequential)
                )
            finally:
                asyncio.run(drop_bench_database(admin))
        report["export_sqlite"] = bench_export(work, args.export_pairs)

    for backend in ("sqlite", "postgresql"):
        if backend in report:
            for row in report[backend]["ingest"]:
                print(
                    f"{backend:10s} ingest {row['mode']:10s} {row['messages']:7d} msgs  "
                    f"{row['messages_per_s']:7d} msg/s  ({row['pairs_total']} pairs in db)"
                )
            print(f"{backend:10s} disk   {report[backend]['disk']['bytes_per_message']} bytes/message")
    for row in report["export_sqlite"]:
        print(
            f"sqlite     export {row['pairs']:8d} pairs  {row['seconds']:6.2f} s  "
            f"peak RSS {row['peak_rss_mib']} MiB (before export {row['rss_before_mib']} MiB)"
        )
    if args.json:
        args.json.parent.mkdir(parents=True, exist_ok=True)
        args.json.write_text(json.dumps(report, indent=2) + "\n")


if __name__ == "__main__":
    main()
