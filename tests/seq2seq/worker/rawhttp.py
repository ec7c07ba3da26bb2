"""HTTP bytes a well-behaved client library would never send, over a plain socket."""

from __future__ import annotations

import json
import socket


def exchange(port: int, data: bytes, timeout: float = 10.0) -> tuple[int, bytes]:
    """Send `data` as-is, read the answer until the worker closes or the body is complete → (status, body)."""
    with socket.create_connection(("127.0.0.1", port), timeout=timeout) as sock:
        sock.sendall(data)
        raw = b""
        while True:
            chunk = sock.recv(1 << 16)
            if not chunk:
                break
            raw += chunk
            head, sep, body = raw.partition(b"\r\n\r\n")
            if sep and _complete(head, body):
                break
    head, _, body = raw.partition(b"\r\n\r\n")
    return int(head.split(b" ", 2)[1]), body


def _complete(head: bytes, body: bytes) -> bool:
    for line in head.split(b"\r\n")[1:]:
        name, _, value = line.partition(b":")
        if name.strip().lower() == b"content-length":
            return len(body) >= int(value)
    return False


def post(port: int, path: str, body: bytes, headers: dict[str, bytes] | None = None) -> tuple[int, bytes]:
    fields = {"Host": b"127.0.0.1", "Connection": b"close", "Content-Type": b"application/json", **(headers or {})}
    lines = [f"POST {path} HTTP/1.1".encode(), f"Content-Length: {len(body)}".encode()]
    lines += [name.encode() + b": " + value for name, value in fields.items()]
    return exchange(port, b"\r\n".join(lines) + b"\r\n\r\n" + body)


def error_message(body: bytes) -> str:
    return json.loads(body)["error"]["message"]
