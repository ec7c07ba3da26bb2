"""Bot benchmark: the real `python -m bot` process against the local Discord test server and a real worker.

    python benchmarks/bot_bench.py --model models/default --json bench-results/bot.json
    python benchmarks/bot_bench.py --model /path/to/tiny --burst-seconds 5        # while developing

Measures the bot process's resident memory, the time from start to the gateway's READY, end-to-end latency
from MESSAGE_CREATE to the reply's POST at 1 and 50 messages/s (and, beside it, the worker's own latency for
the same conversations, asked directly), and a burst of 1,000 messages/s: no crash, memory bounded, every
message in the learning channel logged. Figures move with the machine's load (recorded): compare within a run.
Never a timed unit test.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import platform
import random
import sqlite3
import subprocess
import sys
import tempfile
import time
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))

import aiohttp  # noqa: E402

from benchmarks.worker import linked_models, own_worker, wait_ready  # noqa: E402
from bot.storage import Storage, StorageConfig  # noqa: E402
from tests.discord_server import DiscordTestServer  # noqa: E402

WORDS = (
    "hello how are you doing today what about that game last night lol yes no maybe i think so "
    "really nice cool thanks see you later good morning evening friend"
).split()
LATENCY_CHANNELS = 25  # one reply in flight per channel: spread the load like a busy server does
TOKEN = "banter-bench-token"


def rss_mb(pid: int, field: str = "VmRSS") -> float:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith(field + ":"):
            return int(line.split()[1]) / 1024
    return float("nan")


def pct(values: list[float], q: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(q * len(ordered)))] if ordered else float("nan")


def sentence(rng: random.Random, i: int) -> str:
    return " ".join(rng.choices(WORDS, k=rng.randint(3, 10))) + f" {i}"


class Bench:
    def __init__(self, args: argparse.Namespace, tmp: Path):
        self.args, self.tmp = args, tmp
        self.server = DiscordTestServer(token=TOKEN)
        self.rng = random.Random(7)
        self.db_url = f"sqlite+aiosqlite:///{tmp / 'bench.db'}"
        self.results: dict = {}

    async def setup_world(self) -> None:
        srv = self.server
        await srv.start()
        self.users = [srv.add_user(f"user{i}") for i in range(20)]
        self.guild = srv.add_guild("Bench", self.users[0])
        for user in self.users[1:]:
            srv.add_member(self.guild, user)
        self.chat_channels = [srv.add_channel(self.guild, f"chat{i}") for i in range(LATENCY_CHANNELS)]
        self.learning = srv.add_channel(self.guild, "learning")
        store = await Storage.open(config=StorageConfig(url=self.db_url))
        await store.update_guild_settings(self.guild.id, learning_channels=[self.learning.id])
        await store.close()
        self.ready_at: float | None = None
        identify = srv.gateway._identify

        def timed_identify(conn, d):  # READY goes out inside IDENTIFY's handling
            identify(conn, d)
            if self.ready_at is None:
                self.ready_at = time.monotonic()

        srv.gateway._identify = timed_identify

    def start_bot(self) -> None:
        config = self.tmp / "config.toml"
        config.write_text(
            f'[bot]\nstate_dir = "{self.tmp / "state"}"\nuser_cooldown_seconds = 0\n'
            "channel_per_seconds = 0\nfinetune_interval_hours = 0\n"
        )
        env = {
            **os.environ,
            "DISCORD_TOKEN": TOKEN,
            "BANTER_DISCORD_API": self.server.api_base,
            "BANTER_DISCORD_GATEWAY": self.server.gateway_url,
            "BANTER_WORKER_URL": self.worker_url,
            "BANTER_DATABASE_URL": self.db_url,
            "BANTER_CONFIG": str(config),
            "BANTER_LOG_LEVEL": "WARNING",
        }
        self.started = time.monotonic()
        self.bot = subprocess.Popen(
            [sys.executable, "-m", "bot"],
            cwd=REPO,
            env=env,
            stdin=subprocess.DEVNULL,
            stdout=subprocess.DEVNULL,
            stderr=(self.tmp / "bot.log").open("wb"),
        )

    def alive(self) -> bool:
        return self.bot.poll() is None

    async def wait_ready(self) -> None:
        await self.server.wait_until(lambda: self.ready_at is not None or not self.alive(), timeout=60)
        if not self.alive():
            raise SystemExit(f"the bot exited: {(self.tmp / 'bot.log').read_text()[-2000:]}")
        self.results["ready_s"] = round(self.ready_at - self.started, 3)
        await asyncio.sleep(2.5)  # discord.py waits guild_ready_timeout (2 s) after the last GUILD_CREATE
        self.results["rss_mb_idle"] = round(rss_mb(self.bot.pid), 1)

    async def latency(self, rate: float, seconds: float) -> dict:
        """Mentions at `rate`/s across channels; e2e = MESSAGE_CREATE dispatched → reply POST received."""
        srv, mention = self.server, f"<@{self.server.bot_user.id}>"
        sent_at: dict[int, float] = {}
        history: dict[int, list[str]] = {}
        contexts = []
        count, start = int(rate * seconds), time.monotonic()
        first = len(srv.sent_messages)
        for i in range(count):
            await asyncio.sleep(max(0.0, start + i / rate - time.monotonic()))
            channel = self.chat_channels[i % len(self.chat_channels)]
            text = sentence(self.rng, i)
            turns = history.setdefault(channel.id, [])
            turns.append(text)
            contexts.append(turns[-6:])
            t = time.monotonic()
            message = await srv.user_says(channel, self.users[1 + i % (len(self.users) - 1)], f"{mention} {text}")
            sent_at[int(message["id"])] = t
        await srv.wait_until(lambda: len(srv.sent_messages) - first >= count, timeout=30)
        e2e = []
        for sent in srv.sent_messages[first:]:
            ref = int(sent.body.get("message_reference", {}).get("message_id", 0))
            if ref in sent_at:
                e2e.append((sent.time - sent_at[ref]) * 1000)
        direct = await self.direct(contexts, rate)
        return {
            "rate": rate,
            "messages": count,
            "replies": len(e2e),
            "e2e_ms_p50": round(pct(e2e, 0.5), 2),
            "e2e_ms_p95": round(pct(e2e, 0.95), 2),
            "worker_ms_p50": round(pct(direct, 0.5), 2),
            "worker_ms_p95": round(pct(direct, 0.95), 2),
            "added_ms_p50": round(pct(e2e, 0.5) - pct(direct, 0.5), 2),
        }

    async def direct(self, contexts: list[list[str]], rate: float) -> list[float]:
        """The worker's own latency for the same conversations at the same pace (client round trip)."""
        out: list[float] = []
        async with aiohttp.ClientSession() as session:

            async def one(context: list[str]) -> None:
                t = time.monotonic()
                async with session.post(self.worker_url + "/v1/reply", json={"context": context}) as resp:
                    await resp.read()
                out.append((time.monotonic() - t) * 1000)

            start, tasks = time.monotonic(), []
            for i, context in enumerate(contexts):
                await asyncio.sleep(max(0.0, start + i / rate - time.monotonic()))
                tasks.append(asyncio.create_task(one(context)))
            await asyncio.gather(*tasks)
        return out

    async def burst(self, rate: int, seconds: float) -> dict:
        srv, rss, sent = self.server, [], 0
        tick, start = 0.01, time.monotonic()
        per_tick = rate * tick
        while (elapsed := time.monotonic() - start) < seconds and self.alive():
            due = int(elapsed / tick * per_tick) + int(per_tick)
            while sent < due:
                user = self.users[1 + sent % (len(self.users) - 1)]
                await srv.user_says(self.learning, user, sentence(self.rng, sent))
                sent += 1
            if sent % 1000 < per_tick:
                rss.append(rss_mb(self.bot.pid))
            await asyncio.sleep(tick)
        took = time.monotonic() - start
        logged = await self.wait_logged(sent)
        return {
            "target_rate": rate,
            "seconds": round(took, 2),
            "sent": sent,
            "achieved_rate": round(sent / took),
            "logged": logged,
            "missing": sent - logged,
            "bot_alive": self.alive(),
            "rss_mb_during_max": round(max(rss, default=float("nan")), 1),
            "rss_mb_after": round(rss_mb(self.bot.pid), 1) if self.alive() else None,
            "rss_mb_peak_hwm": round(rss_mb(self.bot.pid, "VmHWM"), 1) if self.alive() else None,
        }

    async def wait_logged(self, expected: int, timeout: float = 120) -> int:
        path = self.db_url.split("///", 1)[1]
        deadline, count = time.monotonic() + timeout, -1
        while time.monotonic() < deadline:
            with sqlite3.connect(f"file:{path}?mode=ro", uri=True, timeout=10) as conn:
                count = conn.execute(
                    "SELECT count(*) FROM messages WHERE channel_id = ?", (self.learning.id,)
                ).fetchone()[0]
            if count >= expected:
                break
            await asyncio.sleep(0.5)
        return count

    async def run(self) -> dict:
        args = self.args
        await self.setup_world()
        with own_worker(args.models, self.tmp / "worker.log", {"BANTER_LOG_LEVEL": "WARNING"}) as (url, worker):
            self.worker_url = url
            await wait_ready(url, worker, os.environ.get("BANTER_WORKER_TOKEN", ""))
            await self.measure()
        self.results["bot_exit_code"] = self.bot.returncode
        return self.results

    async def measure(self) -> None:
        args = self.args
        try:
            self.start_bot()
            await self.wait_ready()
            await self.latency(5, 2)  # warm-up: connections, caches
            self.results["latency_1_per_s"] = await self.latency(1, args.slow_seconds)
            self.results["latency_50_per_s"] = await self.latency(50, args.fast_seconds)
            self.results["rss_mb_after_latency"] = round(rss_mb(self.bot.pid), 1)
            self.results["burst"] = await self.burst(args.burst_rate, args.burst_seconds)
        finally:
            if self.alive():
                self.bot.terminate()
                self.bot.wait(30)
            await self.server.stop()


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--model", type=Path, default=REPO / "models" / "default", help="one model directory")
    parser.add_argument("--models", type=Path, help="a models directory (instead of --model)")
    parser.add_argument("--slow-seconds", type=float, default=30)
    parser.add_argument("--fast-seconds", type=float, default=10)
    parser.add_argument("--burst-rate", type=int, default=1000)
    parser.add_argument("--burst-seconds", type=float, default=30)
    parser.add_argument("--json", type=Path, help="write the figures here")
    args = parser.parse_args()
    with tempfile.TemporaryDirectory(prefix="banter-bot-bench-") as tmp:
        if args.models is None:
            if not (args.model / "config.json").exists():
                raise SystemExit(
                    f"no model at {args.model}; pass --model DIR (e.g. a tiny one: "
                    "python -m seq2seq train --preset tiny --out /tmp/tiny)"
                )
            args.models = linked_models(args.model, Path(tmp) / "models", "bench")
        results = asyncio.run(Bench(args, Path(tmp)).run())
    results["machine"] = {
        "cpus": os.cpu_count(),
        "load_average": [round(x, 2) for x in os.getloadavg()],
        "python": platform.python_version(),
    }
    results["targets"] = {"rss_mb": 150, "ready_s": 2.0, "added_ms_p50": 10.0}
    text = json.dumps(results, indent=2)
    print(text)
    if args.json:
        args.json.parent.mkdir(parents=True, exist_ok=True)
        args.json.write_text(text + "\n")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
