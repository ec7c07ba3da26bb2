"""In-memory Discord world for the test server: snowflakes, users, guilds, channels, roles, members, messages."""

from __future__ import annotations

import datetime as dt
import threading
import time
from dataclasses import dataclass, field
from typing import Any

DISCORD_EPOCH_MS = 1420070400000

# Permission bits (https://discord.com/developers/docs/topics/permissions).
ADMINISTRATOR = 1 << 3
ADD_REACTIONS = 1 << 6
VIEW_CHANNEL = 1 << 10
SEND_MESSAGES = 1 << 11
MANAGE_MESSAGES = 1 << 13
EMBED_LINKS = 1 << 14
ATTACH_FILES = 1 << 15
READ_MESSAGE_HISTORY = 1 << 16
MENTION_EVERYONE = 1 << 17
USE_APPLICATION_COMMANDS = 1 << 31
ALL_PERMISSIONS = (1 << 53) - 1
DEFAULT_EVERYONE_PERMISSIONS = (
    ADD_REACTIONS
    | VIEW_CHANNEL
    | SEND_MESSAGES
    | EMBED_LINKS
    | ATTACH_FILES
    | READ_MESSAGE_HISTORY
    | USE_APPLICATION_COMMANDS
)

# Channel types.
GUILD_TEXT = 0
DM = 1
GUILD_VOICE = 2
GUILD_CATEGORY = 4
GUILD_STAGE_VOICE = 13


class SnowflakeGenerator:
    """Time-based, strictly increasing snowflakes (as ints; payloads turn them into strings)."""

    def __init__(self, worker: int = 1) -> None:
        self._worker = worker & 0x1F
        self._last = 0
        self._lock = threading.Lock()

    def next(self) -> int:
        return self.next_on_shard(0, 1)

    def next_on_shard(self, shard_id: int, shard_count: int) -> int:
        """The next snowflake whose events Discord sends to that shard: shard_of(id, count) == shard_id."""
        with self._lock:
            ms = int(time.time() * 1000) - DISCORD_EPOCH_MS
            candidate = max((ms << 22) | (self._worker << 17), self._last + 1)
            behind = (shard_id - shard_of(candidate, shard_count)) % shard_count
            if behind:  # a few milliseconds later: the first id of that millisecond
                candidate = (((candidate >> 22) + behind) << 22) | (self._worker << 17)
            self._last = candidate
            return candidate


def shard_of(guild_id: int | None, shard_count: int) -> int:
    """Discord's routing: a guild's events go to shard (guild_id >> 22) % shard_count; DMs to shard 0."""
    return 0 if guild_id is None else (int(guild_id) >> 22) % shard_count


def snowflake_time(snowflake: int) -> dt.datetime:
    """The creation time encoded in a snowflake."""
    ms = (int(snowflake) >> 22) + DISCORD_EPOCH_MS
    return dt.datetime.fromtimestamp(ms / 1000, tz=dt.UTC)


def iso(when: dt.datetime | None = None) -> str:
    """ISO8601 timestamp the way Discord writes them."""
    return (when or dt.datetime.now(dt.UTC)).isoformat()


@dataclass
class User:
    id: int
    name: str
    bot: bool = False
    global_name: str | None = None

    @property
    def mention(self) -> str:
        return f"<@{self.id}>"


@dataclass
class Role:
    id: int
    guild_id: int
    name: str
    permissions: int = 0
    position: int = 0
    managed: bool = False

    @property
    def mention(self) -> str:
        return f"<@&{self.id}>"


@dataclass
class Channel:
    id: int
    name: str
    type: int = GUILD_TEXT
    guild_id: int | None = None
    position: int = 0
    topic: str | None = None
    parent_id: int | None = None
    recipients: list[User] = field(default_factory=list)
    messages: list[dict[str, Any]] = field(default_factory=list)  # message payloads, oldest first

    @property
    def last_message_id(self) -> int | None:
        return int(self.messages[-1]["id"]) if self.messages else None

    @property
    def mention(self) -> str:
        return f"<#{self.id}>"


@dataclass
class Member:
    user: User
    guild_id: int
    roles: list[int] = field(default_factory=list)
    joined_at: str = field(default_factory=iso)
    nick: str | None = None


@dataclass
class Guild:
    id: int
    name: str
    owner_id: int
    joined_at: str = field(default_factory=iso)
    roles: dict[int, Role] = field(default_factory=dict)
    channels: dict[int, Channel] = field(default_factory=dict)
    members: dict[int, Member] = field(default_factory=dict)
    emojis: list[dict[str, Any]] = field(default_factory=list)  # custom emoji, as GUILD_CREATE carries them

    @property
    def everyone(self) -> Role:
        return self.roles[self.id]

    def permissions_for(self, user_id: int) -> int:
        """Guild-level permissions of a member (no channel overwrites exist in this world)."""
        if user_id == self.owner_id:
            return ALL_PERMISSIONS
        member = self.members.get(user_id)
        perms = self.everyone.permissions
        if member is not None:
            for role_id in member.roles:
                role = self.roles.get(role_id)
                if role is not None:
                    perms |= role.permissions
        return ALL_PERMISSIONS if perms & ADMINISTRATOR else perms


class World:
    """Everything the fake Discord knows about."""

    def __init__(self) -> None:
        self.ids = SnowflakeGenerator()
        self.users: dict[int, User] = {}
        self.guilds: dict[int, Guild] = {}
        self.channels: dict[int, Channel] = {}  # guild channels and DM channels
        self.messages: dict[int, dict[str, Any]] = {}
        self.dm_channels: dict[int, Channel] = {}  # recipient user id -> DM channel
        self.global_commands: dict[str, dict[str, Any]] = {}
        self.guild_commands: dict[int, dict[str, dict[str, Any]]] = {}

    # -- users -----------------------------------------------------------------------------------
    def add_user(self, name: str, *, bot: bool = False, id: int | None = None) -> User:
        user = User(id=id or self.ids.next(), name=name, bot=bot)
        self.users[user.id] = user
        return user

    # -- guilds ----------------------------------------------------------------------------------
    def add_guild(self, name: str, owner_id: int, *, shard: tuple[int, int] | None = None) -> Guild:
        """A guild; with ``shard=(shard_id, shard_count)`` one whose id routes it to that shard."""
        guild_id = self.ids.next_on_shard(*shard) if shard else self.ids.next()
        guild = Guild(id=guild_id, name=name, owner_id=int(owner_id))
        guild.roles[guild.id] = Role(
            id=guild.id, guild_id=guild.id, name="@everyone", permissions=DEFAULT_EVERYONE_PERMISSIONS
        )
        self.guilds[guild.id] = guild
        return guild

    def add_channel(
        self,
        guild: Guild,
        name: str,
        *,
        type: int = GUILD_TEXT,
        topic: str | None = None,
        parent: Channel | None = None,
    ) -> Channel:
        channel = Channel(
            id=self.ids.next(),
            name=name,
            type=type,
            guild_id=guild.id,
            position=len(guild.channels),
            topic=topic,
            parent_id=parent.id if parent else None,
        )
        guild.channels[channel.id] = channel
        self.channels[channel.id] = channel
        return channel

    def add_role(self, guild: Guild, name: str, permissions: int = 0) -> Role:
        role = Role(
            id=self.ids.next(), guild_id=guild.id, name=name, permissions=int(permissions), position=len(guild.roles)
        )
        guild.roles[role.id] = role
        return role

    def add_emoji(self, guild: Guild, name: str, *, animated: bool = False, available: bool = True) -> int:
        """A custom emoji of the guild; → its id."""
        emoji_id = self.ids.next()
        guild.emojis.append(
            {
                "id": str(emoji_id),
                "name": name,
                "roles": [],
                "require_colons": True,
                "managed": False,
                "animated": animated,
                "available": available,
            }
        )
        return emoji_id

    def add_member(self, guild: Guild, user: User, roles: list[Role] | None = None) -> Member:
        role_ids = [r.id if isinstance(r, Role) else int(r) for r in (roles or [])]
        member = guild.members.get(user.id)
        if member is None:
            member = Member(user=user, guild_id=guild.id, roles=role_ids)
            guild.members[user.id] = member
        else:
            member.roles = role_ids
        return member

    def dm_channel(self, user: User) -> Channel:
        channel = self.dm_channels.get(user.id)
        if channel is None:
            channel = Channel(id=self.ids.next(), name="", type=DM, recipients=[user])
            self.dm_channels[user.id] = channel
            self.channels[channel.id] = channel
        return channel

    # -- messages --------------------------------------------------------------------------------
    def store_message(self, message: dict[str, Any]) -> None:
        channel = self.channels[int(message["channel_id"])]
        channel.messages.append(message)
        self.messages[int(message["id"])] = message

    def remove_message(self, message_id: int) -> dict[str, Any] | None:
        message = self.messages.pop(int(message_id), None)
        if message is not None:
            channel = self.channels.get(int(message["channel_id"]))
            if channel is not None:
                channel.messages = [m for m in channel.messages if m["id"] != message["id"]]
        return message

    def history(
        self,
        channel: Channel,
        *,
        limit: int = 50,
        before: int | None = None,
        after: int | None = None,
        around: int | None = None,
    ) -> list[dict[str, Any]]:
        """Discord's GET /channels/{id}/messages: newest first, at most ``limit`` (1..100)."""
        limit = max(1, min(int(limit), 100))
        ordered = sorted(channel.messages, key=lambda m: int(m["id"]))
        if around is not None:
            older = [m for m in ordered if int(m["id"]) <= around][-((limit + 1) // 2) :]
            newer = [m for m in ordered if int(m["id"]) > around][: limit - len(older)]
            picked = older + newer
        elif after is not None:
            picked = [m for m in ordered if int(m["id"]) > after][:limit]
        else:
            if before is not None:
                ordered = [m for m in ordered if int(m["id"]) < before]
            picked = ordered[-limit:]
        return list(reversed(picked))
