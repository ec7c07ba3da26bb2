"""The worker's listening socket: at most so many open connections, each with a deadline for its first request head."""

from __future__ import annotations

import asyncio
import json
import logging
import resource

from aiohttp import web

from seq2seq.protocol import error_body

log = logging.getLogger("banter.worker.connections")

# File descriptors kept for everything but connections (model files, job logs and pipes, the event loop), and
# for a burst of connections that asyncio accepts before their protocols exist to be counted.
FD_RESERVE = 128
ACCEPT_BATCH = 32  # connections asyncio accepts per wake-up of the listening socket (see GuardedSite)


def connection_cap(wanted: int) -> int:
    """`wanted`, lowered so that open connections can never exhaust the open-file limit (then accept() fails
    in a loop, and nothing, not even a health check, gets in)."""
    soft, _ = resource.getrlimit(resource.RLIMIT_NOFILE)
    if soft == resource.RLIM_INFINITY or soft - FD_RESERVE >= wanted:
        return wanted
    cap = max(8, soft - FD_RESERVE)
    log.info("at most %d connections (not %d): the open-file limit is %d", cap, wanted, soft)
    return cap


class ConnectionGuard:
    """Counts open connections and knows which have a request in a handler (its middleware). Past the cap, a new
    connection closes the longest-open one without a request in progress (half-sent, or idle between requests);
    a connection that has not sent a whole request head within `header_timeout_s` is closed. Idle keep-alive
    connections and stalled bodies have their own limits (aiohttp's keepalive_timeout, routes.body_chunks)."""

    def __init__(self, max_connections: int, header_timeout_s: float):
        self.max_connections = max_connections
        self.header_timeout_s = header_timeout_s
        self._open: dict[_Counted, None] = {}  # oldest first; from accept() to connection_lost
        self._busy: set = set()  # aiohttp protocols with a request in a handler now
        self._awaiting_head: set = set()  # aiohttp protocols that have not yet sent a whole request head

        @web.middleware
        async def track(request: web.Request, handler):
            connection = request.protocol
            self._busy.add(connection)
            self._awaiting_head.discard(connection)
            try:
                return await handler(request)
            finally:
                self._busy.discard(connection)

        self.middleware = track

    @property
    def open(self) -> int:
        return len(self._open)

    def protocol_factory(self, server: web.Server):
        loop = asyncio.get_running_loop()

        def make() -> asyncio.Protocol:
            if len(self._open) >= self.max_connections and not self._make_room():
                log.warning("refused a connection: all %d have a request in progress", len(self._open))
                return _Refused()
            connection = server()
            self._awaiting_head.add(connection)
            loop.call_later(self.header_timeout_s, self._check_head, connection)
            counted = _Counted(connection, self._open)
            self._open[counted] = None
            return counted

        return make

    def _make_room(self) -> bool:
        idle = next((c for c in self._open if c.inner not in self._busy), None)
        if idle is None:
            return False
        log.warning("at the cap of %d connections: closed the longest-open one without a request", len(self._open))
        self._open.pop(idle)
        idle.inner.force_close()
        return True

    def _check_head(self, connection) -> None:
        if connection not in self._awaiting_head:
            return
        self._awaiting_head.discard(connection)
        if connection.transport is not None:
            log.warning("closed a connection that sent no whole request head in %g s", self.header_timeout_s)
            connection.force_close()


class _Counted(asyncio.Protocol):
    """aiohttp's protocol for one connection, counted in `registry` from accept() until the connection is lost."""

    def __init__(self, inner, registry: dict):
        self.inner, self._registry = inner, registry

    def connection_made(self, transport) -> None:
        self.inner.connection_made(transport)

    def connection_lost(self, exc) -> None:
        self._registry.pop(self, None)
        self.inner.connection_lost(exc)

    def data_received(self, data: bytes) -> None:
        self.inner.data_received(data)

    def eof_received(self):
        return self.inner.eof_received()

    def pause_writing(self) -> None:
        self.inner.pause_writing()

    def resume_writing(self) -> None:
        self.inner.resume_writing()


class _Refused(asyncio.Protocol):
    """Every connection is busy with a request: answer 503 at once and close, rather than leave it waiting."""

    BODY = json.dumps(error_body(503, "too many connections with requests in progress; retry")).encode()

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        head = (
            "HTTP/1.1 503 Service Unavailable\r\nContent-Type: application/json\r\nRetry-After: 1\r\n"
            f"Connection: close\r\nContent-Length: {len(self.BODY)}\r\n\r\n"
        )
        transport.write(head.encode() + self.BODY)  # type: ignore[attr-defined]
        transport.close()


class GuardedSite(web.BaseSite):
    """aiohttp's TCPSite, with the guard's protocol factory in front of the server's.

    asyncio accepts as many connections per wake-up as the backlog it was given, before any of their protocols
    exist; so it gets a small one (ACCEPT_BATCH: the guard counts and closes between batches, and the file limit
    is never hit), and the kernel's queue is widened afterwards (bursts of clients still wait, not get refused).
    """

    def __init__(self, runner: web.BaseRunner, guard: ConnectionGuard, host: str, port: int, *, backlog: int = 1024):
        super().__init__(runner, backlog=backlog)
        self._guard, self._host, self._port = guard, host, port

    @property
    def name(self) -> str:
        return f"http://{self._host}:{self._port}"

    async def start(self) -> None:
        await super().start()
        self._server = await asyncio.get_running_loop().create_server(
            self._guard.protocol_factory(self._runner.server),
            self._host,
            self._port,
            backlog=ACCEPT_BATCH,
            reuse_address=True,
        )
        for listening in self._server.sockets:
            with listening.dup() as same_socket:  # listen() again on the same socket: only the queue length changes
                same_socket.listen(self._backlog)
