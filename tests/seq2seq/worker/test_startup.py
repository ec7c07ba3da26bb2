"""Worker start-up as a real process: unusable folders skipped, one active version, real secrets, a light crash."""

from __future__ import annotations

import json
import os
import shutil
import socket
import subprocess
import sys
import urllib.request

import pytest

from .conftest import REPO, corrupt_weights, make_models


def active_versions(listing: dict) -> list[str]:
    return [v["version"] for v in listing["versions"] if v["status"] == "active"]


def activate(worker, version: str) -> None:
    request = urllib.request.Request(f"{worker.url}/v1/models/{version}/activate", method="POST")
    with urllib.request.urlopen(request, timeout=60) as response:
        assert response.status == 200


def serve(*args: str, env: dict | None = None) -> subprocess.CompletedProcess:
    """`python -m seq2seq serve` expected to stop on its own (a refusal or a crash at start)."""
    full_env = {"PYTHONPATH": str(REPO), "PATH": os.environ.get("PATH", "/usr/bin:/bin"), **(env or {})}
    return subprocess.run(
        [sys.executable, "-m", "seq2seq", "serve", *args],
        cwd=REPO,
        env=full_env,
        capture_output=True,
        text=True,
        timeout=60,  # a worker that accepted what it should refuse would serve forever
    )


def test_start_up_skips_a_folder_it_cannot_use_and_logs_one_line(tmp_path, tiny_model_dir, start_worker):
    root = make_models(tmp_path / "models", tiny_model_dir, "default", "alt")
    # What a fine-tune named "registry.json.tmp" left before names were reserved: a published version there.
    shutil.copytree(tiny_model_dir, root / "registry.json.tmp")
    (root / "half-copied").mkdir()
    (root / "notes.txt").write_text("an operator's stray file")
    worker = start_worker(root)

    status, listing = worker.get("/v1/models")
    assert status == 200 and sorted(v["version"] for v in listing["versions"]) == ["alt", "default"]
    assert worker.get("/v1/models/registry.json.tmp")[0] == 400
    skipped = [line for line in worker.log().splitlines() if "skipping" in line]
    assert len(skipped) == 2, skipped
    assert any("registry.json.tmp" in line and "reserved" in line for line in skipped)
    assert any("half-copied" in line and "config.json" in line for line in skipped)

    activate(worker, "alt")  # the record is writable again
    assert json.loads((root / "registry.json").read_text())["active"] == "alt"
    assert not list(root.glob(".tmp-*"))  # no temporary file stays beside the versions


def test_a_corrupt_active_version_at_restart_leaves_exactly_one_active(tmp_path, tiny_model_dir, start_worker):
    root = make_models(tmp_path / "models", tiny_model_dir, "default", "alt")
    first = start_worker(root)
    activate(first, "alt")
    first.stop()
    corrupt_weights(root / "alt")

    again = start_worker(root)
    status, listing = again.get("/v1/models")
    assert status == 200 and listing["active"] == "default" and active_versions(listing) == ["default"]
    on_disk = json.loads((root / "registry.json").read_text())
    assert on_disk["active"] == "default"
    assert [name for name, entry in on_disk["versions"].items() if entry["status"] == "active"] == ["default"]
    assert "NaN" in again.get("/v1/models/alt")[1]["error"]


@pytest.mark.parametrize("token", [" ", "short-secret", "sixteen chars ok", "sixteen-chars-\u00e9\u00e9"])
def test_a_network_bind_needs_a_real_secret(tmp_path, token):
    result = serve("--host", "0.0.0.0", "--port", "0", "--models", str(tmp_path), env={"BANTER_WORKER_TOKEN": token})
    assert result.returncode == 2, result.stderr[-2000:]
    assert "BANTER_WORKER_TOKEN must be a real secret" in result.stderr and "16" in result.stderr
    assert token.strip() == "" or token not in result.stderr


def test_a_crash_at_start_does_not_load_tensorflow(tmp_path):
    """The worker never loads TensorFlow, not even on its way out (it cost seconds and ~1 GB there)."""
    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        port = taken.getsockname()[1]
        result = serve("--port", str(port), "--models", str(tmp_path), env={"PYTHONPROFILEIMPORTTIME": "1"})
    assert result.returncode != 0 and "address already in use" in result.stderr
    imported = [line.split("|")[-1].strip() for line in result.stderr.splitlines() if line.startswith("import time:")]
    assert "seq2seq.worker.server" in imported  # the import log is there, and it is the worker's
    heavy = [name for name in imported if name.split(".")[0] in ("tensorflow", "keras")]
    assert heavy == [], heavy[:5]
