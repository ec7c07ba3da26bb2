"""Starting a worker process (`python -m seq2seq serve` on a free loopback port), and the one the bot supervises."""

from __future__ import annotations

import asyncio
import contextlib
import logging
import os
import socket
import subprocess
import sys
from collections.abc import Mapping
from pathlib import Path

from bot.config import TOKEN_ENV
from bot.storage.config import URL_ENV as DATABASE_URL_ENV

log = logging.getLogger("banter.local_worker")

# The bot's secrets, which the worker never needs: the Discord token, and the database URL (it may hold a
# PostgreSQL password). The worker's own secret (BANTER_WORKER_TOKEN) it does need, and gets.
BOT_ONLY_ENV = (TOKEN_ENV, DATABASE_URL_ENV)

STOP_GRACE_S = 10.0
RESTART_MAX_S = 60.0
POLL_S = 0.5  # how often the supervisor looks at its child
# Put first on the child's PYTHONPATH, so it imports this same seq2seq wherever it is started from.
PACKAGE_ROOT = Path(__file__).resolve().parents[2]


def free_port(host: str = "127.0.0.1") -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind((host, 0))
        return sock.getsockname()[1]


def serve_command(
    models: Path, *, port: int, host: str = "127.0.0.1", config: Path | None = None, extra: tuple[str, ...] = ()
) -> list[str]:
    cmd = [sys.executable, "-m", "seq2seq", "serve", "--models", str(models), "--host", host, "--port", str(port)]
    if config is not None:
        cmd += ["--config", str(config)]
    return [*cmd, *extra]


def spawn(
    models: Path,
    *,
    port: int,
    host: str = "127.0.0.1",
    config: Path | None = None,
    extra: tuple[str, ...] = (),
    env: Mapping[str, str] | None = None,
    log_path: Path | None = None,
) -> subprocess.Popen:
    """Start a worker and return at once. `env` replaces os.environ; with `log_path` its output is appended
    there, else its log goes to our stderr and its stdout nowhere (in console mode our stdout carries replies)."""
    env = dict(os.environ if env is None else env)
    env["PYTHONPATH"] = os.pathsep.join(p for p in (str(PACKAGE_ROOT), env.get("PYTHONPATH")) if p)
    command = serve_command(models, port=port, host=host, config=config, extra=extra)
    if log_path is None:
        return subprocess.Popen(command, stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL, env=env)
    with log_path.open("ab") as handle:
        return subprocess.Popen(command, stdin=subprocess.DEVNULL, stdout=handle, stderr=subprocess.STDOUT, env=env)


def stop(proc: subprocess.Popen, grace_s: float = STOP_GRACE_S) -> None:
    """SIGTERM (the worker finishes replies in flight), then SIGKILL after `grace_s`."""
    if proc.poll() is not None:
        return
    proc.terminate()
    try:
        proc.wait(grace_s)
    except subprocess.TimeoutExpired:
        proc.kill()
        proc.wait()


class LocalWorker:
    """Owns the child process: starts it, restarts it with back-off if it dies, stops it on exit."""

    def __init__(
        self,
        models: Path,
        *,
        host: str = "127.0.0.1",
        config: Path | None = None,
        log_level: str = "WARNING",
        log_path: Path | None = None,
    ):
        self.models = Path(models)
        self.host = host
        self.port = free_port(host)
        self.config = config
        self.log_level = log_level
        self.log_path = log_path
        self.proc: subprocess.Popen | None = None
        self._supervisor: asyncio.Task | None = None
        self._stopping = False

    @property
    def url(self) -> str:
        return f"http://{self.host}:{self.port}"

    async def start(self) -> None:
        """Start the process and return at once; the client's health probe notices when it is ready."""
        if not self.models.is_dir():
            raise FileNotFoundError(f"no models directory at {self.models.resolve()} ([worker] models)")
        self._spawn()
        self._supervisor = asyncio.get_running_loop().create_task(self._supervise(), name="banter-local-worker")

    def _spawn(self) -> None:
        env = {k: v for k, v in os.environ.items() if k not in BOT_ONLY_ENV}
        env["BANTER_LOG_LEVEL"] = self.log_level
        self.proc = spawn(
            self.models, port=self.port, host=self.host, config=self.config, env=env, log_path=self.log_path
        )
        log.info("started worker pid %d on %s (models: %s)", self.proc.pid, self.url, self.models)

    async def _supervise(self) -> None:
        delay = 1.0
        while not self._stopping:
            assert self.proc is not None
            # Polled, not waited on in a thread: cancelling the supervisor must never leave a thread blocked.
            while (code := self.proc.poll()) is None:
                await asyncio.sleep(POLL_S)
            if self._stopping:
                return
            log.error("worker pid %d exited with %s; restarting in %.0f s", self.proc.pid, code, delay)
            await asyncio.sleep(delay)
            delay = min(delay * 2, RESTART_MAX_S)
            if not self._stopping:
                self._spawn()

    async def stop(self) -> None:
        self._stopping = True
        if self._supervisor is not None:
            self._supervisor.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._supervisor
        if self.proc is not None and self.proc.poll() is None:
            await asyncio.to_thread(stop, self.proc)
            log.info("stopped worker pid %d", self.proc.pid)
