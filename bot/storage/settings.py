"""Per-guild settings: where Banter learns and replies, how often, and whether it is on."""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, replace

from sqlalchemy import delete, insert, select, update
from sqlalchemy.ext.asyncio import AsyncConnection

from .models import GuildChannel, GuildSettingsRow, utcnow

LEARN, REPLY = "learn", "reply"


@dataclass(frozen=True, slots=True)
class GuildSettings:
    """A guild's settings; a guild never configured gets these defaults (learning nowhere)."""

    guild_id: int
    enabled: bool = True
    reply_chance: float = 0.05
    cooldown_seconds: float = 30.0
    learning_channels: frozenset[int] = frozenset()
    reply_channels: frozenset[int] = frozenset()

    def learns_in(self, channel_id: int) -> bool:
        return self.enabled and channel_id in self.learning_channels

    def changed(self, **changes) -> GuildSettings:
        """A copy with `changes` (None values ignored), validated."""
        changes = {k: v for k, v in changes.items() if v is not None}
        for key in ("learning_channels", "reply_channels"):
            if key in changes:
                changes[key] = frozenset(int(c) for c in changes[key])
        new = replace(self, **changes)
        if not 0.0 <= new.reply_chance <= 1.0:
            raise ValueError("reply_chance must be between 0 and 1")
        if new.cooldown_seconds < 0:
            raise ValueError("cooldown_seconds must not be negative")
        return new


async def load_settings(conn: AsyncConnection, guild_ids: Iterable[int]) -> dict[int, GuildSettings]:
    """Settings of these guilds, defaults for those never configured."""
    ids = list(set(guild_ids))
    if not ids:
        return {}
    rows = (await conn.execute(select(GuildSettingsRow).where(GuildSettingsRow.guild_id.in_(ids)))).all()
    channels: dict[tuple[int, str], set[int]] = {}
    for guild_id, channel_id, role in await conn.execute(
        select(GuildChannel.guild_id, GuildChannel.channel_id, GuildChannel.role).where(GuildChannel.guild_id.in_(ids))
    ):
        channels.setdefault((guild_id, role), set()).add(channel_id)
    out = {gid: GuildSettings(gid) for gid in ids}
    for row in rows:
        out[row.guild_id] = GuildSettings(
            guild_id=row.guild_id,
            enabled=row.enabled,
            reply_chance=row.reply_chance,
            cooldown_seconds=row.cooldown_seconds,
            learning_channels=frozenset(channels.get((row.guild_id, LEARN), ())),
            reply_channels=frozenset(channels.get((row.guild_id, REPLY), ())),
        )
    return out


async def save_settings(conn: AsyncConnection, settings: GuildSettings) -> None:
    values = {
        "enabled": settings.enabled,
        "reply_chance": settings.reply_chance,
        "cooldown_seconds": settings.cooldown_seconds,
        "updated_at": utcnow(),
    }
    table = GuildSettingsRow.__table__
    # Only the writer writes, so update-then-insert cannot race.
    result = await conn.execute(update(table).where(table.c.guild_id == settings.guild_id).values(values))
    if result.rowcount == 0:
        await conn.execute(insert(table).values(guild_id=settings.guild_id, **values))
    await conn.execute(delete(GuildChannel).where(GuildChannel.guild_id == settings.guild_id))
    rows = [{"guild_id": settings.guild_id, "channel_id": c, "role": LEARN} for c in settings.learning_channels]
    rows += [{"guild_id": settings.guild_id, "channel_id": c, "role": REPLY} for c in settings.reply_channels]
    if rows:
        await conn.execute(insert(GuildChannel), rows)


async def delete_settings(conn: AsyncConnection, guild_id: int) -> None:
    await conn.execute(delete(GuildChannel).where(GuildChannel.guild_id == guild_id))
    await conn.execute(delete(GuildSettingsRow).where(GuildSettingsRow.guild_id == guild_id))
