"""Gateway websocket: HELLO, IDENTIFY/READY/GUILD_CREATE, heartbeats, dispatch with seq, RESUME replay, op 7/9,
and shards (each session gets its guilds' events, DMs go to shard 0)."""

from __future__ import annotations

import asyncio
import contextlib
import json
import logging
import secrets
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from aiohttp import WSMsgType, web

from . import payloads as P
from .state import shard_of

if TYPE_CHECKING:
    from .server import DiscordTestServer

log = logging.getLogger(__name__)

DISPATCH, HEARTBEAT, IDENTIFY, PRESENCE, RESUME, RECONNECT = 0, 1, 2, 3, 6, 7
REQUEST_MEMBERS, INVALID_SESSION, HELLO, HEARTBEAT_ACK = 8, 9, 10, 11

INTENT_GUILDS = 1 << 0
INTENT_GUILD_MEMBERS = 1 << 1
INTENT_GUILD_MESSAGES = 1 << 9
INTENT_DIRECT_MESSAGES = 1 << 12
INTENT_MESSAGE_CONTENT = 1 << 15
CLOSE_AUTH_FAILED, CLOSE_INVALID_SHARD = 4004, 4010
_NO_REPLAY = {"READY", "RESUMED"}
_GUILD_EVENTS = {"GUILD_CREATE", "GUILD_UPDATE", "GUILD_DELETE"}  # the guild's id is "id", not "guild_id"
_CLOSE = object()
_RAW = object()


@dataclass
class Session:
    """A gateway session: survives its socket, so RESUME can replay what the client missed."""

    id: str
    intents: int
    seq: int = 0
    log: list[tuple[int, str, dict[str, Any]]] = field(default_factory=list)
    conn: Connection | None = None
    invalid: bool = False
    shard: tuple[int, int] | None = None  # (shard_id, shard_count) from IDENTIFY; None: every event

    def receives(self, event: str, data: dict[str, Any]) -> bool:
        """Whether Discord routes this event to this session's shard."""
        if self.shard is None:
            return True
        guild_id = data.get("id") if event in _GUILD_EVENTS else data.get("guild_id")
        return shard_of(guild_id, self.shard[1]) == self.shard[0]


class Connection:
    """One websocket; frames go out in order through a queue and a writer task."""

    def __init__(self, ws: web.WebSocketResponse, path: str) -> None:
        self.ws = ws
        self.path = path
        self.session: Session | None = None
        self.queue: asyncio.Queue = asyncio.Queue()
        self.sent: list[dict[str, Any]] = []
        self.writer = asyncio.create_task(self._write())

    def send(self, payload: dict[str, Any]) -> None:
        self.queue.put_nowait(payload)

    def close(self, code: int) -> None:
        self.queue.put_nowait((_CLOSE, code))

    async def stop(self) -> None:
        self.writer.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await self.writer

    async def _write(self) -> None:
        while True:
            item = await self.queue.get()
            try:
                if isinstance(item, tuple) and item[0] is _CLOSE:
                    await self.ws.close(code=item[1])
                    return
                if isinstance(item, tuple) and item[0] is _RAW:
                    await self.ws.send_str(item[1])
                    continue
                await self.ws.send_str(json.dumps(item))
                self.sent.append(item)
            except (ConnectionError, RuntimeError) as exc:  # peer went away
                log.debug("gateway write failed: %r", exc)
                return


class Gateway:
    """The gateway half of the test server."""

    def __init__(self, server: DiscordTestServer) -> None:
        self.server = server
        self.sessions: dict[str, Session] = {}
        self.connections: list[Connection] = []
        self.heartbeat_interval_ms = 41250
        self.ack_heartbeats = True
        self.identify_count = 0
        self.resume_count = 0
        self.heartbeat_count = 0
        self.identify_payloads: list[dict[str, Any]] = []
        self.resume_payloads: list[dict[str, Any]] = []
        self.presence_updates: list[dict[str, Any]] = []
        self.dispatched: list[tuple[str, int, str, dict[str, Any]]] = []  # (session, s, t, d)
        self.replayed: list[tuple[str, int, str]] = []  # (session, s, t) sent again on RESUME
        self.connect_paths: list[str] = []

    # -- observing ----------------------------------------------------------------------------
    def live_sessions(self) -> list[Session]:
        return [s for s in self.sessions.values() if not s.invalid]

    def connected(self) -> bool:
        return any(s.conn is not None for s in self.live_sessions())

    # -- dispatching ----------------------------------------------------------------------------
    def dispatch(self, event: str, data: dict[str, Any]) -> int:
        """Send op 0 ``event`` to every live session (buffered while its socket is gone)."""
        delivered = 0
        for session in self.live_sessions():
            if not session.receives(event, data):
                continue
            d = self._filter(session, event, data)
            if d is None:
                continue
            self._dispatch_to(session, event, d)
            delivered += 1
        self.server._notify()
        return delivered

    def _dispatch_to(self, session: Session, event: str, data: dict[str, Any]) -> None:
        session.seq += 1
        if event not in _NO_REPLAY:
            session.log.append((session.seq, event, data))
        self.dispatched.append((session.id, session.seq, event, data))
        if session.conn is not None:
            session.conn.send({"op": DISPATCH, "s": session.seq, "t": event, "d": data})

    def _filter(self, session: Session, event: str, data: dict[str, Any]) -> dict[str, Any] | None:
        """Apply intents the way Discord does: no event without its intent, no content without MESSAGE_CONTENT."""
        intents = session.intents
        if event in ("GUILD_CREATE", "GUILD_DELETE") and not intents & INTENT_GUILDS:
            return None
        if event == "GUILD_CREATE" and not intents & INTENT_GUILD_MEMBERS:
            # without the privileged members intent Discord only sends the bot's own member
            bot_id = str(self.server.bot_user.id)
            data = {**data, "members": [m for m in data["members"] if m["user"]["id"] == bot_id]}
        if not event.startswith("MESSAGE_"):
            return data
        needed = INTENT_GUILD_MESSAGES if data.get("guild_id") else INTENT_DIRECT_MESSAGES
        if not intents & needed:
            return None
        if event in ("MESSAGE_CREATE", "MESSAGE_UPDATE") and not intents & INTENT_MESSAGE_CONTENT:
            bot_id = str(self.server.bot_user.id)
            mentioned = any(m.get("id") == bot_id for m in data.get("mentions", []))
            if data.get("guild_id") and not mentioned and data.get("author", {}).get("id") != bot_id:
                data = {**data, "content": "", "embeds": [], "attachments": [], "components": []}
        return data

    # -- control --------------------------------------------------------------------------------
    def _detach_all(self) -> list[Connection]:
        conns = []
        for session in self.live_sessions():
            if session.conn is not None:
                conns.append(session.conn)
                session.conn.session = None
                session.conn = None
        return conns

    def send_reconnect(self) -> int:
        """op 7: the client must reconnect and RESUME; later events are kept for the replay."""
        conns = self._detach_all()
        for conn in conns:
            conn.send({"op": RECONNECT, "d": None})
        return len(conns)

    def drop(self, code: int = 4000) -> int:
        """Close every session's socket from the server side (a resumable close code by default)."""
        conns = self._detach_all()
        for conn in conns:
            conn.close(code)
        return len(conns)

    def send_raw(self, text: str) -> int:
        """A text frame exactly as given (not even JSON) to every connected session: a broken gateway or proxy."""
        conns = [s.conn for s in self.live_sessions() if s.conn is not None]
        for conn in conns:
            conn.queue.put_nowait((_RAW, text))
        return len(conns)

    def invalid_session(self, resumable: bool = False) -> int:
        """op 9: with ``resumable=False`` the session is gone and the client must IDENTIFY again."""
        sessions = self.live_sessions()
        conns = self._detach_all()
        if not resumable:
            for session in sessions:
                session.invalid = True
        for conn in conns:
            conn.send({"op": INVALID_SESSION, "d": resumable})
        return len(conns)

    async def close_all(self) -> None:
        for conn in list(self.connections):
            await conn.stop()
            if not conn.ws.closed:
                await conn.ws.close(code=1001)

    # -- the websocket --------------------------------------------------------------------------
    async def handle(self, request: web.Request) -> web.WebSocketResponse:
        ws = web.WebSocketResponse(max_msg_size=0, autoping=True)
        await ws.prepare(request)
        self.connect_paths.append(request.path_qs)
        conn = Connection(ws, request.path_qs)
        self.connections.append(conn)
        conn.send({"op": HELLO, "d": {"heartbeat_interval": self.heartbeat_interval_ms}, "s": None, "t": None})
        try:
            async for msg in ws:
                if msg.type == WSMsgType.TEXT:
                    self._on_frame(conn, json.loads(msg.data))
                elif msg.type == WSMsgType.ERROR:
                    break
        finally:
            session = conn.session
            if session is not None:
                session.conn = None
                if ws.close_code in (1000, 1001):  # a clean close by the client ends the session
                    session.invalid = True
            self.connections.remove(conn)
            await conn.stop()
            self.server._notify()
        return ws

    def _on_frame(self, conn: Connection, frame: dict[str, Any]) -> None:
        op, d = frame.get("op"), frame.get("d")
        if op == HEARTBEAT:
            self.heartbeat_count += 1
            if self.ack_heartbeats:
                conn.send({"op": HEARTBEAT_ACK, "d": None, "s": None, "t": None})
        elif op == IDENTIFY:
            self._identify(conn, d)
        elif op == RESUME:
            self._resume(conn, d)
        elif op == PRESENCE:
            self.presence_updates.append(d)
        elif op == REQUEST_MEMBERS:
            self._request_members(conn, d)
        else:
            log.debug("gateway: ignoring op %s", op)
        self.server._notify()

    def _identify(self, conn: Connection, d: dict[str, Any]) -> None:
        self.identify_count += 1
        self.identify_payloads.append(d)
        if d.get("token") != self.server.token:
            conn.close(CLOSE_AUTH_FAILED)
            return
        shard = d.get("shard")
        if shard is not None and not (
            isinstance(shard, list)
            and len(shard) == 2
            and all(type(n) is int for n in shard)
            and 0 <= shard[0] < shard[1]
        ):
            conn.close(CLOSE_INVALID_SHARD)
            return
        session = Session(
            id=secrets.token_hex(16), intents=int(d.get("intents", 0)), shard=tuple(shard) if shard else None
        )
        self.sessions[session.id] = session
        session.conn, conn.session = conn, session
        srv = self.server
        guilds = [g for g in srv.bot_guilds() if session.receives("GUILD_CREATE", {"id": g.id})]
        ready = {
            "v": 10,
            "user": P.client_user_payload(srv.bot_user),
            "guilds": [{"id": P.sid(g.id), "unavailable": True} for g in guilds],
            "session_id": session.id,
            "session_type": "normal",
            "resume_gateway_url": srv.resume_gateway_url,
            "application": {"id": P.sid(srv.application_id), "flags": 0},
            "private_channels": [],
            "relationships": [],
            "presences": [],
            "user_settings": {},
            "geo_ordered_rtc_regions": [],
            "_trace": ["banter-test-gateway"],
        }
        if shard is not None:
            ready["shard"] = shard
        self._dispatch_to(session, "READY", ready)
        for guild in guilds:
            data = self._filter(session, "GUILD_CREATE", P.guild_create_payload(guild))
            if data is not None:
                self._dispatch_to(session, "GUILD_CREATE", data)

    def _resume(self, conn: Connection, d: dict[str, Any]) -> None:
        self.resume_count += 1
        self.resume_payloads.append(d)
        session = self.sessions.get(d.get("session_id") or "")
        if session is None or session.invalid or d.get("token") != self.server.token:
            conn.send({"op": INVALID_SESSION, "d": False, "s": None, "t": None})
            return
        if session.conn is not None and session.conn is not conn:
            session.conn.session = None
            session.conn.close(4000)
        session.conn, conn.session = conn, session
        last = int(d.get("seq") or 0)
        for s, event, data in session.log:
            if s > last:
                self.replayed.append((session.id, s, event))
                conn.send({"op": DISPATCH, "s": s, "t": event, "d": data})
        self._dispatch_to(session, "RESUMED", {"_trace": ["banter-test-gateway"]})

    def _request_members(self, conn: Connection, d: dict[str, Any]) -> None:
        session = conn.session
        if session is None:
            return
        guild_ids = d.get("guild_id")
        for gid in guild_ids if isinstance(guild_ids, list) else [guild_ids]:
            guild = self.server.world.guilds.get(int(gid))
            if guild is None:
                continue
            members = [P.member_payload(m) for m in guild.members.values()]
            chunk = {
                "guild_id": P.sid(guild.id),
                "members": members,
                "chunk_index": 0,
                "chunk_count": 1,
                "not_found": [],
                "presences": [],
            }
            if d.get("nonce"):
                chunk["nonce"] = d["nonce"]
            self._dispatch_to(session, "GUILD_MEMBERS_CHUNK", chunk)
