"""The load-test script end to end, briefly: it starts its own worker, drives it, and writes its figures."""

from __future__ import annotations

import json
import subprocess
import sys

from tests.worker_process import REPO, make_models


def test_loadtest_writes_figures(tmp_path, tiny_model_dir):
    models = make_models(tmp_path / "models", tiny_model_dir)
    out = tmp_path / "bench" / "loadtest.json"
    result = subprocess.run(
        [
            sys.executable,
            "-m",
            "benchmarks.loadtest",
            "--models",
            str(models),
            "--clients",
            "1,4",
            "--requests",
            "40",
            "--duration",
            "5",
            "--json",
            str(out),
        ],
        cwd=REPO,
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert result.returncode == 0, result.stdout + result.stderr
    data = json.loads(out.read_text())
    assert [p["clients"] for p in data["phases"]] == [1, 4]
    for phase in data["phases"]:
        assert phase["errors"] == {} and phase["replies"] == 40
        assert 0 < phase["p50_ms"] <= phase["p95_ms"] <= phase["p99_ms"]
        assert phase["decode_ms_mean"] > 0 and phase["overhead_ms_p50"] >= 0
    assert data["model_version"] == "default" and "overhead_ms_1" in data["targets"]
    assert "replies/s" in result.stdout and (out.parent / "loadtest.worker.log").exists()
