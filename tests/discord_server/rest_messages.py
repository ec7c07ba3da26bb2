"""REST routes for channel messages: send (JSON or multipart), history paging, edit/delete, typing, reactions."""

from __future__ import annotations

import time
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any
from urllib.parse import quote

from aiohttp import web

from . import payloads as P
from .httputil import API_PREFIX, FILES, DiscordError, UploadedFile, json_response, no_content, read_body, unknown
from .state import Channel, iso

if TYPE_CHECKING:
    from .rest import CoreRoutes
    from .server import DiscordTestServer


@dataclass
class SentMessage:
    """A message the bot POSTed to /channels/{id}/messages."""

    channel_id: int
    body: dict[str, Any]  # the JSON body (payload_json for multipart), allowed_mentions included
    message: dict[str, Any]  # the message object the server answered with
    files: list[UploadedFile] = field(default_factory=list)
    time: float = field(default_factory=time.monotonic)

    @property
    def id(self) -> int:
        return int(self.message["id"])

    @property
    def content(self) -> str | None:
        return self.body.get("content")

    @property
    def allowed_mentions(self) -> dict[str, Any] | None:
        return self.body.get("allowed_mentions")


@dataclass
class TypingCall:
    channel_id: int
    time: float = field(default_factory=time.monotonic)


@dataclass
class ReactionCall:
    method: str  # PUT (add) or DELETE (remove)
    channel_id: int
    message_id: int
    emoji: str
    time: float = field(default_factory=time.monotonic)


def build_attachments(
    server: DiscordTestServer, channel: Channel, body: dict[str, Any], files: list[UploadedFile]
) -> list[dict[str, Any]]:
    """Attachment objects for uploaded files, served back from this server's /attachments route."""
    meta = {str(a.get("id")): a for a in body.get("attachments", []) if isinstance(a, dict)}
    out = []
    for index, upload in enumerate(files):
        info = meta.get(str(index), {})
        att_id = server.world.ids.next()
        filename = info.get("filename") or upload.filename
        url = f"{server.base_url}/attachments/{channel.id}/{att_id}/{quote(filename)}"
        server.uploads[att_id] = upload
        out.append(
            {
                "id": P.sid(att_id),
                "filename": filename,
                "size": len(upload.data),
                "url": url,
                "proxy_url": url,
                "content_type": upload.content_type,
                "description": info.get("description"),
                "ephemeral": False,
            }
        )
    return out


class MessageRoutes:
    def __init__(self, server: DiscordTestServer, core: CoreRoutes) -> None:
        self.server = server
        self.world = server.world
        self.core = core

    def register(self, app: web.Application) -> None:
        r, m = app.router, API_PREFIX + "/channels/{channel_id}/messages"
        r.add_post(m, self.create_message)
        r.add_get(m, self.history)
        r.add_post(m + "/bulk-delete", self.bulk_delete)
        r.add_get(m + "/{message_id}", self.get_message)
        r.add_patch(m + "/{message_id}", self.edit_message)
        r.add_delete(m + "/{message_id}", self.delete_message)
        r.add_put(m + "/{message_id}/reactions/{emoji}/@me", self.reaction)
        r.add_delete(m + "/{message_id}/reactions/{emoji}/@me", self.reaction)
        r.add_post(API_PREFIX + "/channels/{channel_id}/typing", self.typing)
        r.add_get("/attachments/{channel_id}/{attachment_id}/{filename}", self.attachment)

    def _message(self, request: web.Request, channel: Channel) -> dict[str, Any]:
        message = self.world.messages.get(int(request.match_info["message_id"]))
        if message is None or int(message["channel_id"]) != channel.id:
            raise unknown("Message", 10008)
        return message

    async def create_message(self, request: web.Request) -> web.Response:
        channel = self.core.channel(request)
        body = await read_body(request) or {}
        files = request.get(FILES, [])
        if not (
            body.get("content")
            or body.get("embeds")
            or files
            or body.get("components")
            or body.get("sticker_ids")
            or body.get("poll")
        ):
            raise DiscordError(400, "Cannot send an empty message", 50006)
        if len(body.get("content") or "") > 2000:
            raise DiscordError(400, "Invalid Form Body", 50035)
        reply_to = None
        ref = body.get("message_reference")
        if ref and ref.get("message_id"):
            reply_to = self.world.messages.get(int(ref["message_id"]))
            if reply_to is None and ref.get("fail_if_not_exists", True):
                raise DiscordError(400, "Invalid Form Body", 50035)
        srv = self.server
        message = P.message_payload(
            self.world,
            id=self.world.ids.next(),
            channel=channel,
            author=srv.bot_user,
            content=body.get("content") or "",
            reply_to=reply_to,
            embeds=body.get("embeds"),
            attachments=build_attachments(srv, channel, body, files),
            components=body.get("components"),
            flags=int(body.get("flags") or 0),
            nonce=body.get("nonce"),
            tts=bool(body.get("tts")),
        )
        self.world.store_message(message)
        srv.sent_messages.append(SentMessage(channel_id=channel.id, body=body, message=message, files=files))
        if srv.echo_bot_messages:
            srv.gateway.dispatch("MESSAGE_CREATE", P.gateway_message(self.world, message))
        return json_response(message)

    async def history(self, request: web.Request) -> web.Response:
        channel = self.core.channel(request)
        q = request.query
        try:
            limit = int(q.get("limit", 50))
            before, after, around = (int(q[k]) if k in q else None for k in ("before", "after", "around"))
        except ValueError:
            raise DiscordError(400, "Invalid Form Body", 50035) from None
        if not 1 <= limit <= 100:
            raise DiscordError(400, "Invalid Form Body", 50035)
        return json_response(self.world.history(channel, limit=limit, before=before, after=after, around=around))

    async def get_message(self, request: web.Request) -> web.Response:
        channel = self.core.channel(request)
        return json_response(self._message(request, channel))

    async def edit_message(self, request: web.Request) -> web.Response:
        channel = self.core.channel(request)
        message = self._message(request, channel)
        if message["author"]["id"] != P.sid(self.server.bot_user.id):
            raise DiscordError(403, "Cannot edit a message authored by another user", 50005)
        body = await read_body(request) or {}
        for key in ("content", "embeds", "components", "flags"):
            if key in body and body[key] is not None:
                message[key] = body[key]
        message["edited_timestamp"] = iso()
        self.server.bot_edits.append((channel.id, int(message["id"]), body))
        self.server.gateway.dispatch("MESSAGE_UPDATE", P.gateway_message(self.world, message))
        return json_response(message)

    async def delete_message(self, request: web.Request) -> web.Response:
        channel = self.core.channel(request)
        message = self._message(request, channel)
        self.world.remove_message(int(message["id"]))
        self.server.bot_deletes.append((channel.id, int(message["id"])))
        self.server.gateway.dispatch("MESSAGE_DELETE", delete_event(channel, [message["id"]]))
        return no_content()

    async def bulk_delete(self, request: web.Request) -> web.Response:
        channel = self.core.channel(request)
        body = await read_body(request) or {}
        ids = [str(i) for i in body.get("messages", [])]
        if not 2 <= len(ids) <= 100:
            raise DiscordError(400, "Invalid Form Body", 50035)
        for mid in ids:
            self.world.remove_message(int(mid))
            self.server.bot_deletes.append((channel.id, int(mid)))
        self.server.gateway.dispatch("MESSAGE_DELETE_BULK", delete_event(channel, ids, bulk=True))
        return no_content()

    async def typing(self, request: web.Request) -> web.Response:
        channel = self.core.channel(request)
        self.server.typing_calls.append(TypingCall(channel_id=channel.id))
        return no_content()

    async def reaction(self, request: web.Request) -> web.Response:
        channel = self.core.channel(request)
        message = self._message(request, channel)
        self.server.reactions.append(
            ReactionCall(request.method, channel.id, int(message["id"]), request.match_info["emoji"])
        )
        return no_content()

    async def attachment(self, request: web.Request) -> web.Response:
        upload = self.server.uploads.get(int(request.match_info["attachment_id"]))
        if upload is None:
            raise unknown("Attachment", 10000)
        return web.Response(body=upload.data, content_type=upload.content_type or "application/octet-stream")


def delete_event(channel: Channel, ids: list[Any], bulk: bool = False) -> dict[str, Any]:
    data: dict[str, Any] = {"channel_id": P.sid(channel.id)}
    if channel.guild_id:
        data["guild_id"] = P.sid(channel.guild_id)
    if bulk:
        data["ids"] = [str(i) for i in ids]
    else:
        data["id"] = str(ids[0])
    return data
