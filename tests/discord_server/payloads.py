"""Payload builders following Discord's documented object shapes (snowflakes as strings)."""

from __future__ import annotations

import re
from collections.abc import Iterable
from typing import Any

from .state import DM, GUILD_STAGE_VOICE, GUILD_VOICE, Channel, Guild, Member, Role, User, World, iso, snowflake_time

MESSAGE_DEFAULT = 0
MESSAGE_REPLY = 19
MESSAGE_CHAT_INPUT_COMMAND = 20
EPHEMERAL = 1 << 6
LOADING = 1 << 7

_USER_MENTION = re.compile(r"<@!?(\d+)>")
_ROLE_MENTION = re.compile(r"<@&(\d+)>")


def sid(value: Any) -> str | None:
    """Snowflake as a string (None stays None)."""
    if value is None:
        return None
    return str(getattr(value, "id", value))


def user_payload(user: User) -> dict[str, Any]:
    return {
        "id": sid(user.id),
        "username": user.name,
        "discriminator": "0",
        "global_name": user.global_name,
        "avatar": None,
        "bot": user.bot,
        "system": False,
        "public_flags": 0,
    }


def client_user_payload(user: User) -> dict[str, Any]:
    return {**user_payload(user), "verified": True, "mfa_enabled": False, "flags": 0, "email": None, "locale": "en-US"}


def application_payload(app_id: int, owner: User, name: str) -> dict[str, Any]:
    return {
        "id": sid(app_id),
        "name": name,
        "description": "",
        "icon": None,
        "bot_public": True,
        "bot_require_code_grant": False,
        "owner": user_payload(owner),
        "team": None,
        "verify_key": "0" * 64,
        "flags": 0,
        "summary": "",
        "rpc_origins": [],
        "tags": [],
        "redirect_uris": [],
        "interactions_endpoint_url": None,
        "approximate_guild_count": 0,
    }


def role_payload(role: Role) -> dict[str, Any]:
    return {
        "id": sid(role.id),
        "name": role.name,
        "color": 0,
        "colors": {"primary_color": 0, "secondary_color": None, "tertiary_color": None},
        "hoist": False,
        "icon": None,
        "unicode_emoji": None,
        "position": role.position,
        "permissions": str(role.permissions),
        "managed": role.managed,
        "mentionable": False,
        "flags": 0,
    }


def channel_payload(channel: Channel) -> dict[str, Any]:
    if channel.type == DM:
        return {
            "id": sid(channel.id),
            "type": DM,
            "last_message_id": sid(channel.last_message_id),
            "recipients": [user_payload(u) for u in channel.recipients],
            "flags": 0,
        }
    data = {
        "id": sid(channel.id),
        "type": channel.type,
        "guild_id": sid(channel.guild_id),
        "name": channel.name,
        "position": channel.position,
        "permission_overwrites": [],
        "topic": channel.topic,
        "nsfw": False,
        "last_message_id": sid(channel.last_message_id),
        "rate_limit_per_user": 0,
        "parent_id": sid(channel.parent_id),
        "flags": 0,
    }
    if channel.type in (GUILD_VOICE, GUILD_STAGE_VOICE):
        data.update(bitrate=64000, user_limit=0, rtc_region=None, video_quality_mode=1)
    return data


def member_payload(member: Member, *, with_user: bool = True, permissions: int | None = None) -> dict[str, Any]:
    data: dict[str, Any] = {
        "roles": [sid(r) for r in member.roles],  # role ids, never role objects
        "joined_at": member.joined_at,
        "nick": member.nick,
        "avatar": None,
        "premium_since": None,
        "deaf": False,
        "mute": False,
        "pending": False,
        "flags": 0,
        "communication_disabled_until": None,
    }
    if with_user:
        data["user"] = user_payload(member.user)
    if permissions is not None:
        data["permissions"] = str(permissions)
    return data


def guild_create_payload(guild: Guild) -> dict[str, Any]:
    return {
        "id": sid(guild.id),
        "name": guild.name,
        "icon": None,
        "splash": None,
        "discovery_splash": None,
        "owner_id": sid(guild.owner_id),
        "afk_channel_id": None,
        "afk_timeout": 300,
        "verification_level": 0,
        "default_message_notifications": 0,
        "explicit_content_filter": 0,
        "roles": [role_payload(r) for r in guild.roles.values()],
        "emojis": list(guild.emojis),
        "stickers": [],
        "features": [],
        "mfa_level": 0,
        "system_channel_id": None,
        "system_channel_flags": 0,
        "rules_channel_id": None,
        "vanity_url_code": None,
        "description": None,
        "banner": None,
        "premium_tier": 0,
        "preferred_locale": "en-US",
        "public_updates_channel_id": None,
        "nsfw_level": 0,
        "premium_progress_bar_enabled": False,
        # GUILD_CREATE-only fields
        "joined_at": guild.joined_at,
        "large": False,
        "unavailable": False,
        "member_count": len(guild.members),
        "voice_states": [],
        "members": [member_payload(m) for m in guild.members.values()],
        "channels": [channel_payload(c) for c in guild.channels.values()],
        "threads": [],
        "presences": [],
        "stage_instances": [],
        "guild_scheduled_events": [],
        "soundboard_sounds": [],
    }


def parse_mentions(world: World, content: str, extra: Iterable[User] = ()) -> list[User]:
    found: dict[int, User] = {u.id: u for u in extra}
    for match in _USER_MENTION.finditer(content or ""):
        user = world.users.get(int(match.group(1)))
        if user is not None:
            found.setdefault(user.id, user)
    return list(found.values())


def message_payload(
    world: World,
    *,
    id: int,
    channel: Channel,
    author: User,
    content: str = "",
    mentions: Iterable[User] = (),
    reply_to: dict[str, Any] | None = None,
    embeds: list[Any] | None = None,
    attachments: list[Any] | None = None,
    components: list[Any] | None = None,
    flags: int = 0,
    type: int | None = None,
    webhook_id: int | None = None,
    application_id: int | None = None,
    nonce: Any = None,
    interaction_metadata: dict[str, Any] | None = None,
    tts: bool = False,
) -> dict[str, Any]:
    """A message object as REST returns it (gateway events add guild_id and member)."""
    guild = world.guilds.get(channel.guild_id) if channel.guild_id else None
    mentioned = parse_mentions(world, content, mentions)
    mention_list = []
    for user in mentioned:
        entry = user_payload(user)
        if guild is not None and user.id in guild.members:
            entry["member"] = member_payload(guild.members[user.id], with_user=False)
        mention_list.append(entry)
    data: dict[str, Any] = {
        "id": sid(id),
        "channel_id": sid(channel.id),
        "author": user_payload(author),
        "content": content,
        "timestamp": iso(snowflake_time(id)),
        "edited_timestamp": None,
        "tts": tts,
        "mention_everyone": False,
        "mentions": mention_list,
        "mention_roles": [m.group(1) for m in _ROLE_MENTION.finditer(content or "")],
        "attachments": attachments or [],
        "embeds": embeds or [],
        "components": components or [],
        "pinned": False,
        "type": type if type is not None else (MESSAGE_REPLY if reply_to else MESSAGE_DEFAULT),
        "flags": flags,
    }
    if guild is not None:
        data["guild_id"] = sid(guild.id)
    if nonce is not None:
        data["nonce"] = nonce
    if webhook_id is not None:
        data["webhook_id"] = sid(webhook_id)
    if application_id is not None:
        data["application_id"] = sid(application_id)
    if interaction_metadata is not None:
        data["interaction_metadata"] = interaction_metadata
    if reply_to is not None:
        data["message_reference"] = {
            "type": 0,
            "message_id": reply_to["id"],
            "channel_id": reply_to["channel_id"],
            "guild_id": reply_to.get("guild_id"),
        }
        data["referenced_message"] = {k: v for k, v in reply_to.items() if k not in ("referenced_message", "member")}
    return data


def gateway_message(world: World, message: dict[str, Any]) -> dict[str, Any]:
    """MESSAGE_CREATE / MESSAGE_UPDATE data: the message plus guild_id and the author's member."""
    data = dict(message)
    channel = world.channels.get(int(message["channel_id"]))
    guild = world.guilds.get(channel.guild_id) if channel and channel.guild_id else None
    if guild is not None:
        data["guild_id"] = sid(guild.id)
        member = guild.members.get(int(message["author"]["id"]))
        if member is not None and "webhook_id" not in message:
            data["member"] = member_payload(member, with_user=False)
    return data
