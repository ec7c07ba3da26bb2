"""Hostile and careless requests: each gets a short 4xx naming the problem, and at most one log line, never a trace."""

from __future__ import annotations

import json
import subprocess
import sys

import pytest

from .conftest import REPO, make_models
from .rawhttp import error_message, exchange, post

TOKEN = "tok-hostile-requests-0123456789"


def tracebacks(worker) -> int:
    return worker.log().count("Traceback")


@pytest.mark.parametrize("seed", [-1, 2**64])
def test_a_bad_seed_is_a_400_naming_it(served, seed):
    status, body = post(served.port, "/v1/reply", b'{"context": ["hi"], "options": {"seed": %d}}' % seed)
    assert status == 400 and "seed" in error_message(body)
    status, _ = post(served.port, "/v1/reply", b'{"context": ["hi"], "options": {"seed": 7, "strategy": "sample"}}')
    assert status == 200
    assert tracebacks(served) == 0


def test_a_bad_decoding_config_stops_the_worker_at_start_with_one_line(tmp_path, tiny_model_dir):
    root = make_models(tmp_path / "models", tiny_model_dir)
    config = tmp_path / "worker.toml"
    config.write_text("[decoding]\nstrategy = 'sample'\nseed = -1\n")
    result = subprocess.run(
        [sys.executable, "-m", "seq2seq", "serve", "--port", "0", "--models", str(root), "--config", str(config)],
        cwd=REPO,
        env={"PYTHONPATH": str(REPO), "PATH": "/usr/bin:/bin"},
        capture_output=True,
        text=True,
        timeout=30,  # before the fix it started and served: this timeout was the failure
    )
    lines = result.stderr.strip().splitlines()
    assert result.returncode == 2 and len(lines) == 1 and "[decoding]" in lines[0] and "seed" in lines[0], lines


@pytest.mark.parametrize(
    "path, body, content_type",
    [
        ("/v1/reply", b"[" * 100_000, "application/json"),
        ("/v1/reply", b'{"context": ["hi"], "options": ' + b'{"a": ' * 50_000, "application/json"),
        ("/v1/jobs/finetune", b'{"pairs": ' + b"[" * 100_000, "application/json"),
        ("/v1/jobs/finetune", b'{"query": "a", "reply": "b"}\n' + b"[" * 100_000, "application/x-ndjson"),
    ],
)
def test_deeply_nested_json_is_a_400(served, path, body, content_type):
    status, answer = post(served.port, path, body, {"Content-Type": content_type.encode()})
    assert status == 400 and "nested" in error_message(answer)
    assert tracebacks(served) == 0


def test_long_names_are_clipped_in_the_answer(served):
    for path in ("/v1/models/" + "v" * 5000, "/v1/jobs/" + "j" * 5000):
        status, body = exchange(served.port, f"GET {path} HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n".encode())
        assert status in (400, 404) and len(body) < 400, (path, len(body))
    status, body = post(served.port, "/v1/reply", b'{"context": ["hi"], "%s": 1}' % (b"k" * 5000))
    assert status == 400 and "unknown fields" in error_message(body) and len(body) < 400


def test_an_oversized_header_is_a_400_and_one_line_per_request(served):
    before = served.log().count("\n")
    for _ in range(3):
        status, _ = exchange(
            served.port, b"GET /healthz HTTP/1.1\r\nHost: x\r\nX-Big: " + b"a" * 9000 + b"\r\nConnection: close\r\n\r\n"
        )
        assert status in (400, 431)
    status, _ = exchange(served.port, b"GET /healthz HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n")
    assert status == 200  # the barrier: the bad requests above were handled (and logged) before this one
    assert tracebacks(served) == 0 and served.log().count("\n") - before <= 3


def test_an_undecodable_authorization_header_is_a_401(tmp_path, tiny_model_dir, start_worker):
    root = make_models(tmp_path / "models", tiny_model_dir)
    worker = start_worker(root, env={"BANTER_WORKER_TOKEN": TOKEN}, headers={"Authorization": f"Bearer {TOKEN}"})
    for value in (b"Bearer \xff\xfe\xfa", b"\xc3\x28", b"Bearer " + TOKEN.encode() + b"\x80"):
        status, body = post(worker.port, "/v1/reply", b'{"context": ["hi"]}', {"Authorization": value})
        assert status == 401 and "bearer token" in error_message(body)
    status, _ = post(worker.port, "/v1/reply", b'{"context": ["hi"]}', {"Authorization": f"Bearer {TOKEN}".encode()})
    assert status == 200
    assert tracebacks(worker) == 0 and TOKEN not in worker.log()


@pytest.mark.parametrize("path", ["x" * 5000, "\ud800.jsonl", "a\x00b"])
def test_an_unusable_path_is_a_short_4xx(tmp_path, tiny_model_dir, start_worker, path):
    """Found by the fuzz: a 5,000-character name made the file system raise ENAMETOOLONG, answered 500."""
    (tmp_path / "imports").mkdir()
    root = make_models(tmp_path / "models", tiny_model_dir)
    worker = start_worker(root, env={"BANTER_WORKER_IMPORT_DIR": str(tmp_path / "imports")})
    status, answer = post(worker.port, "/v1/jobs/finetune", json.dumps({"path": path}).encode())
    assert status == 400 and len(answer) < 400, answer
    assert tracebacks(worker) == 0
