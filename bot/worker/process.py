"""A worker the bot starts itself (no [worker] url): `python -m seq2seq serve` on a free loopback port."""

from __future__ import annotations

import asyncio
import contextlib
import logging
import os
import socket
import sys
from pathlib import Path

from bot.config import TOKEN_ENV
from bot.storage.config import URL_ENV as DATABASE_URL_ENV

log = logging.getLogger("banter.local_worker")

# The bot's secrets, which the worker never needs: the Discord token, and the database URL (it may hold a
# PostgreSQL password). The worker's own secret (BANTER_WORKER_TOKEN) it does need, and gets.
BOT_ONLY_ENV = (TOKEN_ENV, DATABASE_URL_ENV)

STOP_GRACE_S = 10.0
RESTART_MAX_S = 60.0


def free_port(host: str = "127.0.0.1") -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind((host, 0))
        return sock.getsockname()[1]


class LocalWorker:
    """Owns the child process: starts it, restarts it with back-off if it dies, stops it on exit."""

    def __init__(
        self, models: Path, *, host: str = "127.0.0.1", config: Path | None = None, log_level: str = "WARNING"
    ):
        self.models = Path(models)
        self.host = host
        self.port = free_port(host)
        self.config = config
        self.log_level = log_level
        self.proc: asyncio.subprocess.Process | None = None
        self._supervisor: asyncio.Task | None = None
        self._stopping = False

    @property
    def url(self) -> str:
        return f"http://{self.host}:{self.port}"

    def command(self) -> list[str]:
        cmd = [
            sys.executable,
            "-m",
            "seq2seq",
            "serve",
            "--models",
            str(self.models),
            "--host",
            self.host,
            "--port",
            str(self.port),
        ]
        if self.config is not None:
            cmd += ["--config", str(self.config)]
        return cmd

    async def start(self) -> None:
        """Start the process and return at once; the client's health probe notices when it is ready."""
        if not self.models.is_dir():
            raise FileNotFoundError(f"no models directory at {self.models.resolve()} ([worker] models)")
        await self._spawn()
        self._supervisor = asyncio.get_running_loop().create_task(self._supervise(), name="banter-local-worker")

    async def _spawn(self) -> None:
        env = {k: v for k, v in os.environ.items() if k not in BOT_ONLY_ENV}
        env["BANTER_LOG_LEVEL"] = self.log_level
        # The child's stdout is not ours: in console mode standard output carries only replies.
        self.proc = await asyncio.create_subprocess_exec(
            *self.command(), stdin=asyncio.subprocess.DEVNULL, stdout=asyncio.subprocess.DEVNULL, env=env
        )
        log.info("started worker pid %d on %s (models: %s)", self.proc.pid, self.url, self.models)

    async def _supervise(self) -> None:
        delay = 1.0
        while not self._stopping:
            assert self.proc is not None
            code = await self.proc.wait()
            if self._stopping:
                return
            log.error("worker pid %d exited with %s; restarting in %.0f s", self.proc.pid, code, delay)
            await asyncio.sleep(delay)
            delay = min(delay * 2, RESTART_MAX_S)
            if not self._stopping:
                await self._spawn()

    async def stop(self) -> None:
        self._stopping = True
        if self._supervisor is not None:
            self._supervisor.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._supervisor
        proc = self.proc
        if proc is None or proc.returncode is not None:
            return
        proc.terminate()  # the worker finishes replies in flight on SIGTERM
        try:
            await asyncio.wait_for(proc.wait(), STOP_GRACE_S)
        except TimeoutError:
            proc.kill()
            await proc.wait()
        log.info("stopped worker pid %d", proc.pid)
