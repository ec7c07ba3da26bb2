"""Worker fixtures: model directories made from the session's tiny model, and real worker subprocesses."""

from __future__ import annotations

from pathlib import Path

import pytest

# Re-exported for the tests of this package.
from tests.worker_process import REPO, WorkerProc, corrupt_weights, make_models, make_versions, running  # noqa: F401


@pytest.fixture
def start_worker(tmp_path):
    """Start workers in a test; all are stopped at its end."""
    started: list[WorkerProc] = []

    def start(models: Path, *, ready: bool = True, headers: dict | None = None, **kwargs) -> WorkerProc:
        worker = WorkerProc(models, tmp_path / f"worker-{len(started)}.log", **kwargs)
        started.append(worker)
        if ready:
            worker.wait_ready(headers=headers)
        return worker

    yield start
    for worker in started:
        worker.stop()


@pytest.fixture(scope="module")
def served(tiny_model_dir, tmp_path_factory):
    """One worker per test module over models default, alt (a copy) and broken (NaN weights, no loss chart)."""
    base = tmp_path_factory.mktemp("served")
    with running(make_versions(base / "models", tiny_model_dir), base / "worker.log") as worker:
        yield worker
