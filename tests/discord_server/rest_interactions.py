"""Interaction callbacks (?with_response=true) and the interaction webhook: follow-ups, @original get/edit/delete."""

from __future__ import annotations

import asyncio
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from aiohttp import web

from . import payloads as P
from .httputil import API_PREFIX, FILES, DiscordError, json_response, no_content, read_body, unknown
from .rest_messages import build_attachments
from .state import iso

if TYPE_CHECKING:
    from .server import DiscordTestServer

CHANNEL_MESSAGE, DEFERRED_CHANNEL_MESSAGE, DEFERRED_UPDATE, UPDATE_MESSAGE = 4, 5, 6, 7
AUTOCOMPLETE_RESULT, MODAL = 8, 9


@dataclass
class InteractionRecord:
    """An INTERACTION_CREATE the server sent and everything the bot answered to it."""

    id: int
    token: str
    name: str  # full command path, e.g. "banter config set"
    guild_id: int | None
    channel_id: int
    user_id: int
    payload: dict[str, Any]  # the INTERACTION_CREATE data
    server: DiscordTestServer = field(repr=False)
    created: float = field(default_factory=time.monotonic)
    callbacks: list[dict[str, Any]] = field(default_factory=list)  # {"type", "data"} bodies
    followups: list[dict[str, Any]] = field(default_factory=list)  # bodies POSTed to the webhook
    edits: list[tuple[str, dict[str, Any]]] = field(default_factory=list)  # (target, body)
    deletions: list[str] = field(default_factory=list)
    original: dict[str, Any] | None = None  # the response message object
    messages: dict[int, dict[str, Any]] = field(default_factory=dict)  # original + follow-ups

    @property
    def response_type(self) -> int | None:
        return self.callbacks[0]["type"] if self.callbacks else None

    @property
    def ephemeral(self) -> bool:
        flags = ((self.callbacks[0].get("data") or {}).get("flags") or 0) if self.callbacks else 0
        return bool(int(flags) & P.EPHEMERAL)

    async def wait(self, predicate: Callable[[InteractionRecord], bool], timeout: float = 5.0) -> InteractionRecord:
        await self.server.wait_until(lambda: predicate(self), timeout=timeout)
        return self

    async def wait_for_response(self, timeout: float = 5.0) -> dict[str, Any]:
        await self.wait(lambda r: bool(r.callbacks), timeout)
        return self.callbacks[0]

    async def wait_for_followups(self, count: int = 1, timeout: float = 5.0) -> list[dict[str, Any]]:
        await self.wait(lambda r: len(r.followups) >= count, timeout)
        return self.followups

    async def wait_for_edits(self, count: int = 1, timeout: float = 5.0) -> list[tuple[str, dict[str, Any]]]:
        await self.wait(lambda r: len(r.edits) >= count, timeout)
        return self.edits


class InteractionRoutes:
    def __init__(self, server: DiscordTestServer) -> None:
        self.server = server
        self.world = server.world

    def register(self, app: web.Application) -> None:
        r, a = app.router, API_PREFIX
        r.add_post(a + "/interactions/{interaction_id}/{token}/callback", self.callback)
        r.add_post(a + "/webhooks/{app_id}/{token}", self.followup)
        hook = a + "/webhooks/{app_id}/{token}/messages/{message_id}"
        r.add_get(hook, self.get_message)
        r.add_patch(hook, self.edit_message)
        r.add_delete(hook, self.delete_message)

    def _record(self, token: str) -> InteractionRecord:
        record = self.server.interactions.get(token)
        if record is None:
            raise unknown("Webhook", 10015)
        return record

    def _webhook_record(self, request: web.Request) -> InteractionRecord:
        if request.match_info["app_id"] != str(self.server.application_id):
            raise unknown("Webhook", 10015)
        record = self._record(request.match_info["token"])
        if not record.callbacks:  # the webhook only exists once the interaction was acknowledged
            raise unknown("Webhook", 10015)
        return record

    def _new_message(
        self, record: InteractionRecord, data: dict[str, Any], files: list[Any], *, type: int, extra_flags: int = 0
    ) -> dict[str, Any]:
        srv = self.server
        channel = self.world.channels[record.channel_id]
        message = P.message_payload(
            self.world,
            id=self.world.ids.next(),
            channel=channel,
            author=srv.bot_user,
            content=data.get("content") or "",
            embeds=data.get("embeds"),
            attachments=build_attachments(srv, channel, data, files),
            components=data.get("components"),
            flags=(int(data.get("flags") or 0) & P.EPHEMERAL) | extra_flags,
            type=type,
            webhook_id=srv.application_id,
            application_id=srv.application_id,
            tts=bool(data.get("tts")),
            interaction_metadata={
                "id": P.sid(record.id),
                "type": 2,
                "user": P.user_payload(self.world.users[record.user_id]),
                "authorizing_integration_owners": {"0": P.sid(record.guild_id)}
                if record.guild_id
                else {"1": P.sid(record.user_id)},
            },
        )
        record.messages[int(message["id"])] = message
        if not message["flags"] & P.EPHEMERAL:
            self.world.store_message(message)
            srv.gateway.dispatch("MESSAGE_CREATE", P.gateway_message(self.world, message))
        return message

    async def callback(self, request: web.Request) -> web.Response:
        record = self._record(request.match_info["token"])
        if request.match_info["interaction_id"] != str(record.id):
            raise unknown("interaction", 10062)
        body = await read_body(request) or {}
        files = request.get(FILES, [])
        if record.callbacks:
            raise DiscordError(400, "Interaction has already been acknowledged.", 40060)
        if time.monotonic() - record.created > self.server.interaction_response_timeout:
            raise unknown("interaction", 10062)
        cb_type, data = int(body.get("type", 0)), body.get("data") or {}
        record.callbacks.append(body)
        if cb_type == CHANNEL_MESSAGE:
            record.original = self._new_message(record, data, files, type=P.MESSAGE_CHAT_INPUT_COMMAND)
        elif cb_type == DEFERRED_CHANNEL_MESSAGE:
            record.original = self._new_message(
                record, {"flags": data.get("flags")}, [], type=P.MESSAGE_CHAT_INPUT_COMMAND, extra_flags=P.LOADING
            )
        self.server._notify()
        if request.query.get("with_response", "").lower() not in ("1", "true"):
            return no_content()
        interaction = {
            "id": P.sid(record.id),
            "type": record.payload["type"],
            "activity_instance_id": None,
            "response_message_id": None,
            "response_message_loading": cb_type == DEFERRED_CHANNEL_MESSAGE,
            "response_message_ephemeral": record.ephemeral,
        }
        result: dict[str, Any] = {"interaction": interaction}
        if record.original is not None and cb_type in (CHANNEL_MESSAGE, DEFERRED_CHANNEL_MESSAGE):
            interaction["response_message_id"] = record.original["id"]
            result["resource"] = {"type": cb_type, "message": record.original}
        return json_response(result)

    async def followup(self, request: web.Request) -> web.Response:
        record = self._webhook_record(request)
        body = await read_body(request) or {}
        record.followups.append(body)
        message = self._new_message(record, body, request.get(FILES, []), type=P.MESSAGE_DEFAULT)
        self.server._notify()
        if request.query.get("wait", "").lower() in ("1", "true"):
            return json_response(message)
        return no_content()

    def _target(self, request: web.Request, record: InteractionRecord) -> tuple[str, dict[str, Any]]:
        target = request.match_info["message_id"]
        if target == "@original":
            message = record.original
        else:
            message = record.messages.get(int(target)) if target.isdigit() else None
        if message is None:
            raise unknown("Message", 10008)
        return target, message

    async def get_message(self, request: web.Request) -> web.Response:
        record = self._webhook_record(request)
        return json_response(self._target(request, record)[1])

    async def edit_message(self, request: web.Request) -> web.Response:
        record = self._webhook_record(request)
        target, message = self._target(request, record)
        body = await read_body(request) or {}
        record.edits.append((target, body))
        for key in ("content", "embeds", "components"):
            if key in body and body[key] is not None:
                message[key] = body[key]
        if request.get(FILES):
            channel = self.world.channels[record.channel_id]
            message["attachments"] = build_attachments(self.server, channel, body, request[FILES])
        message["flags"] = int(message.get("flags") or 0) & ~P.LOADING
        message["edited_timestamp"] = iso()
        if not message["flags"] & P.EPHEMERAL:
            self.server.gateway.dispatch("MESSAGE_UPDATE", P.gateway_message(self.world, message))
        self.server._notify()
        return json_response(message)

    async def delete_message(self, request: web.Request) -> web.Response:
        record = self._webhook_record(request)
        target, message = self._target(request, record)
        record.deletions.append(target)
        record.messages.pop(int(message["id"]), None)
        if target == "@original" or record.original is message:
            record.original = None
        if self.world.remove_message(int(message["id"])) is not None:
            data = {"id": message["id"], "channel_id": message["channel_id"]}
            if record.guild_id:
                data["guild_id"] = P.sid(record.guild_id)
            self.server.gateway.dispatch("MESSAGE_DELETE", data)
        self.server._notify()
        await asyncio.sleep(0)
        return no_content()
