"""A real `python -m seq2seq serve` subprocess on a free loopback port, shared by every test package."""

from __future__ import annotations

import json
import os
import resource
import shutil
import signal
import socket
import subprocess
import sys
import time
import urllib.error
import urllib.request
from pathlib import Path

import numpy as np

REPO = Path(__file__).resolve().parents[1]


def _limit_open_files(count: int) -> None:
    resource.setrlimit(resource.RLIMIT_NOFILE, (count, resource.getrlimit(resource.RLIMIT_NOFILE)[1]))


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def make_models(root: Path, tiny: Path, *names: str) -> Path:
    """root/<name>/ copies of the tiny model; 'default' first."""
    root.mkdir(parents=True, exist_ok=True)
    for name in names or ("default",):
        shutil.copytree(tiny, root / name)
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
        full_env = {**os.environ, "TF_CPP_MIN_LOG_LEVEL": "2", "PYTHONPATH": str(REPO)}
        full_env.pop("BANTER_WORKER_TOKEN", None)
        full_env.update(env or {})
        with log.open("ab") as handle:
            self.proc = subprocess.Popen(
                [sys.executable, "-m", "seq2seq", "serve", "--models", str(models), "--port", str(self.port), *args],
                cwd=REPO,
                env=full_env,
                stdout=handle,
                stderr=subprocess.STDOUT,
                preexec_fn=None if open_files is None else lambda: _limit_open_files(open_files),
            )

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
        if self.proc.poll() is None:
            self.proc.send_signal(signal.SIGTERM)
            try:
                self.proc.wait(15)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()
