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
    """root/<name>/ copies of a tiny model (v2, or v1 to upgrade from); 'default' first."""
    root.mkdir(parents=True, exist_ok=True)
    for name in names or ("default",):
        shutil.copytree(tiny, root / name)
    return root


def environment_of(pid: int) -> dict[str, str]:
    """The environment a process was started with, as the kernel shows it to anyone allowed to look."""
    entries = Path(f"/proc/{pid}/environ").read_bytes().split(b"\0")
    return dict(e.decode(errors="replace").split("=", 1) for e in entries if b"=" in e)


def make_versions(root: Path, tiny: Path) -> Path:
    """root/default, root/alt (a copy) and root/broken (a cut engine file, no loss chart): versions to swap, roll
    back and refuse."""
    make_models(root, tiny, "default", "alt", "broken")
    corrupt_weights(root / "broken")
    (root / "broken" / "loss.png").unlink()
    return root


V1_ACTIVE, V1_CANDIDATE = "ft-20250101-000000-aaaaaa", "ft-20241201-000000-bbbbbb"  # make_v1_era's versions


def make_v1_era(root: Path, tiny: Path, tiny_v1: Path) -> Path:
    """A models folder as v1 left it (its shipped default, a fine-tuned version active, an older candidate), then
    the upgrade's checkout, which replaces models/default with the shipped v2 model."""
    make_models(root, tiny_v1, "default", V1_ACTIVE, V1_CANDIDATE)
    versions = {
        "default": {"status": "retired", "created": "2024-11-01T00:00:00+00:00"},
        V1_ACTIVE: {
            "status": "active",
            "created": "2025-01-01T00:00:00+00:00",
            "parent": "default",
            "gate": {"passed": True},
        },
        V1_CANDIDATE: {"status": "candidate", "created": "2024-12-01T00:00:00+00:00"},
    }
    (root / "registry.json").write_text(json.dumps({"format": 1, "active": V1_ACTIVE, "versions": versions}))
    shutil.rmtree(root / "default")
    shutil.copytree(tiny, root / "default")
    return root


def corrupt_weights(path: Path) -> None:
    """The serving engine's weights cut in half, as a full disk leaves them: the files are all there, only
    loading notices."""
    weights = path / "engine" / "model.bin"
    data = weights.read_bytes()
    weights.write_bytes(data[: len(data) // 2])


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
