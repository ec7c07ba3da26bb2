"""A real `python -m seq2seq serve` subprocess on a free loopback port, shared by every test package."""

from __future__ import annotations

import contextlib
import json
import os
import resource
import shutil
import time
import urllib.error
import urllib.request
from collections.abc import Iterator
from pathlib import Path

import numpy as np

from bot.worker.process import free_port, spawn, stop

REPO = Path(__file__).resolve().parents[1]


@contextlib.contextmanager
def open_file_limit(count: int | None) -> Iterator[None]:
    """Processes started inside inherit a file-descriptor limit (RLIMIT_NOFILE) of `count`; ours comes back after."""
    if count is None:
        yield
        return
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    resource.setrlimit(resource.RLIMIT_NOFILE, (count, hard))
    try:
        yield
    finally:
        resource.setrlimit(resource.RLIMIT_NOFILE, (soft, hard))


def make_models(root: Path, tiny: Path, *names: str) -> Path:
    """root/<name>/ copies of the tiny model; 'default' first."""
    root.mkdir(parents=True, exist_ok=True)
    for name in names or ("default",):
        shutil.copytree(tiny, root / name)
    return root


def environment_of(pid: int) -> dict[str, str]:
    """The environment a process was started with, as the kernel shows it to anyone allowed to look."""
    entries = Path(f"/proc/{pid}/environ").read_bytes().split(b"\0")
    return dict(e.decode(errors="replace").split("=", 1) for e in entries if b"=" in e)


def make_versions(root: Path, tiny: Path) -> Path:
    """root/default, root/alt (a copy) and root/broken (NaN weights, no loss chart): versions to swap, roll back
    and refuse."""
    make_models(root, tiny, "default", "alt", "broken")
    corrupt_weights(root / "broken")
    (root / "broken" / "loss.png").unlink()
    return root


def corrupt_weights(path: Path) -> None:
    """Valid zip, valid arrays, but NaN inside: only a careful loader notices."""
    with np.load(path / "weights.npz") as data:
        arrays = {k: data[k] for k in data.files}
    first = sorted(arrays)[0]
    arrays[first] = np.full_like(arrays[first], np.nan)
    np.savez(path / "weights.npz", **arrays)


class WorkerProc:
    """`python -m seq2seq serve` on a free loopback port; its log is kept for assertions."""

    def __init__(
        self,
        models: Path,
        log: Path,
        *,
        env: dict | None = None,
        args: tuple = (),
        port: int | None = None,
        open_files: int | None = None,
    ):
        """`open_files`: the worker's file-descriptor limit (RLIMIT_NOFILE), to see it run out."""
        self.models, self.log_path, self.port = models, log, port or free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        full_env = {**os.environ, "TF_CPP_MIN_LOG_LEVEL": "2"}
        full_env.pop("BANTER_WORKER_TOKEN", None)
        full_env.update(env or {})
        with open_file_limit(open_files):
            self.proc = spawn(models, port=self.port, extra=tuple(args), env=full_env, log_path=log)

    def wait_ready(self, timeout: float = 60.0, headers: dict | None = None) -> None:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self.proc.poll() is not None:
                raise RuntimeError(f"worker exited with {self.proc.returncode}:\n{self.log()}")
            try:
                request = urllib.request.Request(self.url + "/readyz", headers=headers or {})
                with urllib.request.urlopen(request, timeout=1) as response:
                    if response.status == 200:
                        return
            except OSError:
                pass
            time.sleep(0.1)
        raise TimeoutError(f"worker not ready after {timeout} s:\n{self.log()}")

    def log(self) -> str:
        return self.log_path.read_text(errors="replace")

    def get(self, path: str) -> tuple[int, dict]:
        try:
            with urllib.request.urlopen(self.url + path, timeout=10) as response:
                return response.status, json.loads(response.read())
        except urllib.error.HTTPError as exc:
            return exc.code, json.loads(exc.read())

    def stop(self) -> None:
        stop(self.proc, grace_s=15)


@contextlib.contextmanager
def running(models: Path, log: Path, *, headers: dict | None = None, **kwargs) -> Iterator[WorkerProc]:
    """A ready WorkerProc for a `with` block (a module fixture's lifetime), stopped at its end; `headers`
    authorise the readiness check of a worker started with a token."""
    worker = WorkerProc(models, log, **kwargs)
    try:
        worker.wait_ready(headers=headers)
        yield worker
    finally:
        worker.stop()
