"""REST routes: identity, gateway info, application commands, guild/channel lookups and DM channels."""

from __future__ import annotations

import time
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from aiohttp import web

from . import payloads as P
from .httputil import API_PREFIX, DiscordError, json_response, read_body, unknown
from .state import Channel, Guild

if TYPE_CHECKING:
    from .server import DiscordTestServer


@dataclass
class CommandSync:
    """One PUT of the command list (a bulk overwrite)."""

    guild_id: int | None  # None for global commands
    body: list[dict[str, Any]]
    time: float = field(default_factory=time.monotonic)


class CoreRoutes:
    def __init__(self, server: DiscordTestServer) -> None:
        self.server = server
        self.world = server.world

    def register(self, app: web.Application) -> None:
        r, a = app.router, API_PREFIX
        r.add_get(a + "/users/@me", self.get_me)
        r.add_get(a + "/users/{user_id:\\d+}", self.get_user)
        r.add_get(a + "/oauth2/applications/@me", self.get_application)
        r.add_get(a + "/applications/@me", self.get_application)
        r.add_get(a + "/gateway", self.get_gateway)
        r.add_get(a + "/gateway/bot", self.get_gateway_bot)
        r.add_get(a + "/applications/{app_id}/commands", self.get_commands)
        r.add_put(a + "/applications/{app_id}/commands", self.put_commands)
        r.add_get(a + "/applications/{app_id}/guilds/{guild_id}/commands", self.get_commands)
        r.add_put(a + "/applications/{app_id}/guilds/{guild_id}/commands", self.put_commands)
        r.add_get(a + "/guilds/{guild_id}", self.get_guild)
        r.add_get(a + "/guilds/{guild_id}/channels", self.get_guild_channels)
        r.add_get(a + "/guilds/{guild_id}/members/{user_id}", self.get_member)
        r.add_get(a + "/channels/{channel_id}", self.get_channel)
        r.add_post(a + "/users/@me/channels", self.create_dm)

    # -- helpers ----------------------------------------------------------------------------------
    def guild(self, request: web.Request) -> Guild:
        guild = self.world.guilds.get(int(request.match_info["guild_id"]))
        if guild is None or self.server.bot_user.id not in guild.members:
            raise unknown("Guild", 10004)
        return guild

    def channel(self, request: web.Request) -> Channel:
        try:
            channel = self.world.channels.get(int(request.match_info["channel_id"]))
        except ValueError:
            channel = None
        if channel is None:
            raise unknown("Channel", 10003)
        return channel

    def _check_app(self, request: web.Request) -> None:
        if int(request.match_info["app_id"]) != self.server.application_id:
            raise DiscordError(403, "Missing Access", 50001)

    # -- identity ---------------------------------------------------------------------------------
    async def get_me(self, request: web.Request) -> web.Response:
        return json_response(P.client_user_payload(self.server.bot_user))

    async def get_user(self, request: web.Request) -> web.Response:
        user = self.world.users.get(int(request.match_info["user_id"]))
        if user is None:
            raise unknown("User", 10013)
        return json_response(P.user_payload(user))

    async def get_application(self, request: web.Request) -> web.Response:
        srv = self.server
        return json_response(P.application_payload(srv.application_id, srv.owner_user, srv.bot_user.name))

    async def get_gateway(self, request: web.Request) -> web.Response:
        return json_response({"url": self.server.gateway_url})

    async def get_gateway_bot(self, request: web.Request) -> web.Response:
        return json_response(
            {
                "url": self.server.gateway_url,
                "shards": 1,
                "session_start_limit": {"total": 1000, "remaining": 999, "reset_after": 0, "max_concurrency": 1},
            }
        )

    # -- application commands ---------------------------------------------------------------------
    def _scope(self, request: web.Request) -> dict[str, dict[str, Any]]:
        self._check_app(request)
        if "guild_id" in request.match_info:
            guild = self.guild(request)
            return self.world.guild_commands.setdefault(guild.id, {})
        return self.world.global_commands

    async def get_commands(self, request: web.Request) -> web.Response:
        return json_response(list(self._scope(request).values()))

    async def put_commands(self, request: web.Request) -> web.Response:
        scope = self._scope(request)
        body = await read_body(request)
        if not isinstance(body, list):
            raise DiscordError(400, "Invalid Form Body", 50035)
        guild_id = int(request.match_info["guild_id"]) if "guild_id" in request.match_info else None
        self.server.command_syncs.append(CommandSync(guild_id=guild_id, body=body))
        new: dict[str, dict[str, Any]] = {}
        for cmd in body:
            if not cmd.get("name"):
                raise DiscordError(400, "Invalid Form Body", 50035)
            old = scope.get(cmd["name"])
            obj = {
                "type": 1,
                "description": "",
                "options": [],
                "default_member_permissions": None,
                "nsfw": False,
                "contexts": None,
                "integration_types": None,
                **cmd,
                "id": old["id"] if old else P.sid(self.world.ids.next()),
                "application_id": P.sid(self.server.application_id),
                "version": P.sid(self.world.ids.next()),
            }
            if guild_id is not None:
                obj["guild_id"] = P.sid(guild_id)
            new[cmd["name"]] = obj
        scope.clear()
        scope.update(new)
        return json_response(list(new.values()))

    # -- guilds and channels ----------------------------------------------------------------------
    async def get_guild(self, request: web.Request) -> web.Response:
        data = P.guild_create_payload(self.guild(request))
        for key in (
            "members",
            "channels",
            "threads",
            "voice_states",
            "presences",
            "joined_at",
            "large",
            "member_count",
            "stage_instances",
            "guild_scheduled_events",
            "soundboard_sounds",
        ):
            data.pop(key, None)
        return json_response(data)

    async def get_guild_channels(self, request: web.Request) -> web.Response:
        guild = self.guild(request)
        return json_response([P.channel_payload(c) for c in guild.channels.values()])

    async def get_member(self, request: web.Request) -> web.Response:
        member = self.guild(request).members.get(int(request.match_info["user_id"]))
        if member is None:
            raise unknown("Member", 10007)
        return json_response(P.member_payload(member))

    async def get_channel(self, request: web.Request) -> web.Response:
        return json_response(P.channel_payload(self.channel(request)))

    async def create_dm(self, request: web.Request) -> web.Response:
        body = await read_body(request) or {}
        user = self.world.users.get(int(body.get("recipient_id", 0)))
        if user is None:
            raise unknown("User", 10013)
        return json_response(P.channel_payload(self.world.dm_channel(user)))
