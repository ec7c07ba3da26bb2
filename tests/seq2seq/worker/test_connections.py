"""Slow and half-open connections: closed after the header and idle timeouts, capped below the file limit, and
the worker keeps answering health checks meanwhile, logging a few lines rather than a flood of tracebacks."""

from __future__ import annotations

import socket
import time

import pytest

from .conftest import make_models
from .rawhttp import exchange

HALF_SENT = 400  # more than the worker's 256 file descriptors


@pytest.fixture
def guarded(tmp_path, tiny_model_dir, start_worker):
    config = tmp_path / "worker.toml"
    config.write_text("[worker]\nheader_timeout_s = 3\nidle_timeout_s = 3\n")
    root = make_models(tmp_path / "models", tiny_model_dir)
    return start_worker(root, args=("--config", str(config)), open_files=256)


def closed_by_peer(sock: socket.socket) -> bool:
    try:
        return sock.recv(1 << 16) == b""
    except ConnectionResetError:
        return True
    except TimeoutError:
        return False


def test_half_sent_requests_are_closed_and_health_checks_still_answer(guarded):
    sockets = []
    try:
        for _ in range(HALF_SENT):
            sock = socket.create_connection(("127.0.0.1", guarded.port), timeout=5)
            sock.sendall(b"POST /v1/reply HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\n")  # never ends
            sockets.append(sock)
        status, _ = exchange(guarded.port, b"GET /healthz HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n", 5)
        assert status == 200
        deadline = time.monotonic() + 20
        for sock in sockets:  # the barrier: every half-sent request is closed by the worker
            sock.settimeout(max(0.1, deadline - time.monotonic()))
            assert closed_by_peer(sock)
    finally:
        for sock in sockets:
            sock.close()
    status, _ = exchange(guarded.port, b"GET /healthz HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n", 5)
    assert status == 200
    log = guarded.log()
    assert "Traceback" not in log and len(log.splitlines()) < 40, log[-3000:]


def test_a_stalled_body_gets_408(guarded):
    with socket.create_connection(("127.0.0.1", guarded.port), timeout=20) as sock:
        sock.sendall(b'POST /v1/reply HTTP/1.1\r\nHost: x\r\nContent-Length: 100\r\n\r\n{"context": ')
        answer = sock.recv(1 << 16)
    assert answer.startswith(b"HTTP/1.1 408") and b"no part of the request body arrived" in answer


def test_an_idle_keep_alive_connection_is_closed(guarded):
    with socket.create_connection(("127.0.0.1", guarded.port), timeout=20) as sock:
        sock.sendall(b"GET /healthz HTTP/1.1\r\nHost: x\r\n\r\n")
        assert sock.recv(1 << 16).startswith(b"HTTP/1.1 200")
        assert closed_by_peer(sock)  # within idle_timeout_s, not the hour aiohttp would wait


def test_past_the_cap_with_every_connection_busy_a_new_one_gets_503(tmp_path, tiny_model_dir, start_worker):
    config = tmp_path / "worker.toml"
    config.write_text("[worker]\nmax_connections = 8\nidle_timeout_s = 3\n")
    worker = start_worker(make_models(tmp_path / "models", tiny_model_dir), args=("--config", str(config)))
    uploads = []
    try:
        for _ in range(8):  # each is inside a handler, reading a body that stalls: none can be closed for room
            sock = socket.create_connection(("127.0.0.1", worker.port), timeout=20)
            uploads.append(sock)
            sock.sendall(b"POST /v1/reply HTTP/1.1\r\nHost: x\r\nContent-Length: 100\r\nExpect: 100-continue\r\n\r\n")
            assert sock.recv(1 << 16).startswith(b"HTTP/1.1 100")  # the barrier: its handler is running
            sock.sendall(b'{"context": ')
        status, body = exchange(worker.port, b"GET /healthz HTTP/1.1\r\nHost: x\r\n\r\n", 5)
        assert status == 503 and b"too many connections" in body
        assert all(sock.recv(1 << 16).startswith(b"HTTP/1.1 408") for sock in uploads)  # then each is freed
    finally:
        for sock in uploads:
            sock.close()
    status, _ = exchange(worker.port, b"GET /healthz HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n", 5)
    assert status == 200
