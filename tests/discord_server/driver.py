"""Driving the bot: users talk, edit and delete; slash commands are invoked; guilds leave; the gateway misbehaves."""

from __future__ import annotations

import asyncio
import secrets
from collections.abc import Iterable
from typing import TYPE_CHECKING, Any

from . import payloads as P
from .rest_interactions import InteractionRecord
from .rest_messages import delete_event
from .state import Channel, Guild, Role, User

if TYPE_CHECKING:
    from .server import DiscordTestServer

MessageLike = dict[str, Any] | int
SUB_COMMAND, SUB_COMMAND_GROUP = 1, 2
OPT_STRING, OPT_INTEGER, OPT_BOOLEAN, OPT_USER, OPT_CHANNEL, OPT_ROLE, OPT_MENTIONABLE, OPT_NUMBER = (
    3,
    4,
    5,
    6,
    7,
    8,
    9,
    10,
)


class DriverMixin:
    """Methods of DiscordTestServer that make things happen on the gateway."""

    def _msg(self: DiscordTestServer, message: MessageLike) -> dict[str, Any]:
        mid = int(message["id"]) if isinstance(message, dict) else int(message)
        return self.world.messages[mid]

    async def _dispatch(self: DiscordTestServer, event: str, data: dict[str, Any]) -> None:
        self.gateway.dispatch(event, data)
        await asyncio.sleep(0)

    # -- messages ---------------------------------------------------------------------------------
    async def user_says(
        self: DiscordTestServer,
        channel: Channel,
        user: User,
        content: str,
        reply_to: MessageLike | None = None,
        mentions: Iterable[User] = (),
        **fields: Any,
    ) -> dict[str, Any]:
        """``user`` posts ``content`` in ``channel``: stored, then MESSAGE_CREATE. Returns the message.

        ``<@id>`` mentions in the content are resolved like Discord does; ``mentions`` adds more.
        """
        message = P.message_payload(
            self.world,
            id=self.world.ids.next(),
            channel=channel,
            author=user,
            content=content,
            mentions=mentions,
            reply_to=self._msg(reply_to) if reply_to is not None else None,
            **fields,
        )
        self.world.store_message(message)
        await self._dispatch("MESSAGE_CREATE", P.gateway_message(self.world, message))
        return message

    async def user_dms(self: DiscordTestServer, user: User, content: str, **kwargs: Any) -> dict[str, Any]:
        """``user`` writes to the bot in a DM."""
        return await self.user_says(self.world.dm_channel(user), user, content, **kwargs)

    def seed_history(
        self: DiscordTestServer, channel: Channel, user: User, contents: Iterable[str]
    ) -> list[dict[str, Any]]:
        """Store old messages without dispatching anything (for history tests)."""
        out = []
        for content in contents:
            message = P.message_payload(
                self.world, id=self.world.ids.next(), channel=channel, author=user, content=content
            )
            self.world.store_message(message)
            out.append(message)
        return out

    async def edit_message(self: DiscordTestServer, message: MessageLike, content: str) -> dict[str, Any]:
        stored = self._msg(message)
        stored["content"] = content
        stored["edited_timestamp"] = P.iso()
        await self._dispatch("MESSAGE_UPDATE", P.gateway_message(self.world, stored))
        return stored

    async def delete_message(self: DiscordTestServer, message: MessageLike) -> None:
        stored = self._msg(message)
        self.world.remove_message(int(stored["id"]))
        channel = self.world.channels[int(stored["channel_id"])]
        await self._dispatch("MESSAGE_DELETE", delete_event(channel, [stored["id"]]))

    async def bulk_delete(self: DiscordTestServer, channel: Channel, messages: Iterable[MessageLike]) -> None:
        ids = [str(self._msg(m)["id"]) for m in messages]
        for mid in ids:
            self.world.remove_message(int(mid))
        await self._dispatch("MESSAGE_DELETE_BULK", delete_event(channel, ids, bulk=True))

    # -- guilds -----------------------------------------------------------------------------------
    async def remove_guild(self: DiscordTestServer, guild: Guild, unavailable: bool = False) -> None:
        """GUILD_DELETE: the bot was removed (or, with ``unavailable=True``, an outage)."""
        if not unavailable:
            guild.members.pop(self.bot_user.id, None)
        await self._dispatch("GUILD_DELETE", {"id": P.sid(guild.id), "unavailable": unavailable})

    async def join_guild(self: DiscordTestServer, guild: Guild) -> None:
        """GUILD_CREATE for a guild added after the bot connected (on_guild_join)."""
        self.world.add_member(guild, self.bot_user)
        data = P.guild_create_payload(guild)
        del data["unavailable"]  # present (false) only when a guild from READY becomes available
        await self._dispatch("GUILD_CREATE", data)

    # -- gateway trouble --------------------------------------------------------------------------
    async def drop_gateway(self: DiscordTestServer, code: int = 4000) -> int:
        """Close the bot's socket (events from now on are buffered for its RESUME)."""
        n = self.gateway.drop(code)
        await asyncio.sleep(0)
        return n

    async def send_reconnect(self: DiscordTestServer) -> int:
        """op 7 RECONNECT."""
        n = self.gateway.send_reconnect()
        await asyncio.sleep(0)
        return n

    async def invalid_session(self: DiscordTestServer, resumable: bool = False) -> int:
        """op 9 INVALID_SESSION."""
        n = self.gateway.invalid_session(resumable)
        await asyncio.sleep(0)
        return n

    async def wait_for_gateway(self: DiscordTestServer, timeout: float = 10.0) -> None:
        """Wait until a live session has a socket again (after a RESUME or IDENTIFY)."""
        await self.wait_until(self.gateway.connected, timeout)

    # -- slash commands ---------------------------------------------------------------------------
    def find_command(self: DiscordTestServer, name: str, guild: Guild | None = None) -> dict[str, Any]:
        if guild is not None and name in self.world.guild_commands.get(guild.id, {}):
            return self.world.guild_commands[guild.id][name]
        if name in self.world.global_commands:
            return self.world.global_commands[name]
        raise LookupError(f"/{name} has not been synced (PUT .../commands) for guild {guild and guild.id}")

    def _option(
        self: DiscordTestServer,
        schema: dict[str, Any],
        value: Any,
        resolved: dict[str, dict[str, Any]],
        guild: Guild | None,
    ) -> dict[str, Any]:
        kind = schema["type"]
        if kind == OPT_MENTIONABLE:
            kind = OPT_ROLE if isinstance(value, Role) else OPT_USER
        if kind == OPT_USER:
            user = value if isinstance(value, User) else self.world.users[int(value)]
            resolved.setdefault("users", {})[P.sid(user.id)] = P.user_payload(user)
            if guild is not None and user.id in guild.members:
                member = P.member_payload(
                    guild.members[user.id], with_user=False, permissions=guild.permissions_for(user.id)
                )
                resolved.setdefault("members", {})[P.sid(user.id)] = member
            value = P.sid(user.id)
        elif kind == OPT_CHANNEL:
            channel = value if isinstance(value, Channel) else self.world.channels[int(value)]
            data = {k: v for k, v in P.channel_payload(channel).items() if k != "permission_overwrites"}
            data["permissions"] = str(guild.permissions_for(self.bot_user.id) if guild else 0)
            resolved.setdefault("channels", {})[P.sid(channel.id)] = data
            value = P.sid(channel.id)
        elif kind == OPT_ROLE:
            role = value if isinstance(value, Role) else guild.roles[int(value)]  # type: ignore[union-attr]
            resolved.setdefault("roles", {})[P.sid(role.id)] = P.role_payload(role)
            value = P.sid(role.id)
        return {"name": schema["name"], "type": schema["type"], "value": value}

    def _build_options(
        self: DiscordTestServer,
        command: dict[str, Any],
        path: tuple[str, ...],
        options: dict[str, Any],
        guild: Guild | None,
    ) -> tuple[list[dict[str, Any]], dict[str, Any]]:
        resolved: dict[str, dict[str, Any]] = {}
        node, chain = command, []
        for part in path:
            sub = next(
                (
                    o
                    for o in node.get("options") or []
                    if o["name"] == part and o["type"] in (SUB_COMMAND, SUB_COMMAND_GROUP)
                ),
                None,
            )
            if sub is None:
                raise LookupError(f"{part!r} is not a subcommand of {node['name']!r}")
            chain.append(sub)
            node = sub
        schemas = {o["name"]: o for o in node.get("options") or []}
        leaf = []
        for name, value in options.items():
            if name not in schemas:
                raise LookupError(f"{name!r} is not an option of {node['name']!r}: {sorted(schemas)}")
            leaf.append(self._option(schemas[name], value, resolved, guild))
        missing = [n for n, o in schemas.items() if o.get("required") and n not in options]
        if missing:
            raise ValueError(f"missing required options {missing}")
        for sub in reversed(chain):
            leaf = [{"name": sub["name"], "type": sub["type"], "options": leaf}]
        return leaf, resolved

    async def invoke_slash(
        self: DiscordTestServer,
        guild: Guild | None,
        channel: Channel,
        user: User,
        name: str,
        *path: str,
        options: dict[str, Any] | None = None,
        locale: str = "en-US",
    ) -> InteractionRecord:
        """``user`` runs ``/name *path`` with ``options``: INTERACTION_CREATE (type 2). Await its record's waits."""
        command = self.find_command(name, guild)
        opts, resolved = self._build_options(command, path, dict(options or {}), guild)
        data: dict[str, Any] = {"id": command["id"], "name": name, "type": 1, "options": opts}
        if resolved:
            data["resolved"] = resolved
        if command.get("guild_id"):
            data["guild_id"] = command["guild_id"]
        iid, token = self.world.ids.next(), "itok." + secrets.token_urlsafe(24)
        channel_data = P.channel_payload(channel)
        payload: dict[str, Any] = {
            "id": P.sid(iid),
            "application_id": P.sid(self.application_id),
            "type": 2,
            "data": data,
            "channel": channel_data,
            "channel_id": P.sid(channel.id),
            "token": token,
            "version": 1,
            "locale": locale,
            "entitlements": [],
            "attachment_size_limit": 10 * 1024 * 1024,
        }
        if guild is not None:
            member = guild.members.get(user.id) or self.world.add_member(guild, user)
            perms = guild.permissions_for(user.id)
            channel_data["permissions"] = str(perms)
            payload.update(
                guild_id=P.sid(guild.id),
                guild_locale="en-US",
                context=0,
                guild={"id": P.sid(guild.id), "locale": "en-US", "features": []},
                member=P.member_payload(member, permissions=perms),
                app_permissions=str(guild.permissions_for(self.bot_user.id)),
                authorizing_integration_owners={"0": P.sid(guild.id)},
            )
        else:
            payload.update(
                user=P.user_payload(user),
                context=1,
                app_permissions=str(0),
                authorizing_integration_owners={"0": P.sid(user.id)},
            )
        record = InteractionRecord(
            id=iid,
            token=token,
            name=" ".join((name,) + path),
            guild_id=guild.id if guild else None,
            channel_id=channel.id,
            user_id=user.id,
            payload=payload,
            server=self,
        )
        self.interactions[token] = record
        await self._dispatch("INTERACTION_CREATE", payload)
        return record
