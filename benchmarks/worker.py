"""A benchmark's own worker: one model linked into a temp models directory, served, ready, then stopped."""

from __future__ import annotations

import asyncio
import contextlib
import os
import shutil
import subprocess
import tempfile
import time
from collections.abc import Iterator
from pathlib import Path

from bot.worker.client import WorkerClient, WorkerError
from bot.worker.process import free_port, spawn, stop


def linked_models(model: Path, root: Path, name: str = "default") -> Path:
    """root/<name> → model: the worker serves it without ever writing beside the original."""
    root.mkdir(parents=True, exist_ok=True)
    (root / name).symlink_to(model.resolve(), target_is_directory=True)
    return root


@contextlib.contextmanager
def own_worker(models: Path, log_path: Path, env: dict | None = None) -> Iterator[tuple[str, subprocess.Popen]]:
    """(url, process) of a worker on a free loopback port over `models`; its output goes to `log_path` (emptied)."""
    port = free_port()
    env = {**os.environ, "TF_CPP_MIN_LOG_LEVEL": "2", **(env or {})}
    log_path.write_bytes(b"")
    proc = spawn(models, port=port, env=env, log_path=log_path)
    try:
        yield f"http://127.0.0.1:{port}", proc
    finally:
        stop(proc, grace_s=15)


@contextlib.contextmanager
def own_model_worker(model: Path, log_path: Path, env: dict | None = None) -> Iterator[tuple[str, subprocess.Popen]]:
    """own_worker over a temp models directory whose only version, `default`, links to `model`."""
    tmp = Path(tempfile.mkdtemp(prefix="banter-bench-"))
    try:
        with own_worker(linked_models(model, tmp / "models"), log_path, env) as served:
            yield served
    finally:
        shutil.rmtree(tmp, ignore_errors=True)


async def wait_ready(url: str, proc: subprocess.Popen | None, token: str = "", timeout: float = 120.0) -> str:
    """The active model version once the worker at `url` is ready; a clear error if it exits or has no model."""
    deadline = time.monotonic() + timeout
    async with WorkerClient(url, token) as client:
        while time.monotonic() < deadline:
            if proc is not None and proc.poll() is not None:
                raise RuntimeError(f"the worker exited with status {proc.returncode}")
            try:
                health = await client.healthz()
                if health.get("model_version"):
                    return health["model_version"]
                if not health.get("loading", True):
                    raise RuntimeError("the worker found no usable model version (see its log)")
            except WorkerError as exc:
                if exc.status not in (0, 503):  # not yet listening, or still loading: wait; else say why
                    raise RuntimeError(f"the worker at {url} answered {exc.status}: {exc.message}") from exc
            await asyncio.sleep(0.2)
    raise TimeoutError(f"the worker at {url} was not ready after {timeout} s")
