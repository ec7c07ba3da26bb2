"""bot/storage/settings.py and audit.py through Storage."""

import pytest

from bot.storage import GuildSettings

ADMIN = 5001


async def test_a_new_guild_gets_defaults_that_learn_nowhere(storage):
    settings = await storage.get_guild_settings(424242)
    assert settings == GuildSettings(424242)
    assert not settings.learns_in(10)


async def test_update_persists_and_is_audited(storage, reopen):
    new = await storage.update_guild_settings(
        3,
        actor_id=ADMIN,
        learning_channels={30, 31},
        reply_channels=[32],
        reply_chance=0.25,
        cooldown_seconds=5,
    )
    assert new.learning_channels == {30, 31} and new.reply_channels == {32}
    await storage.update_guild_settings(3, actor_id=ADMIN, enabled=False, learning_channels=[31])
    await storage.close()
    again = await reopen()
    settings = await again.get_guild_settings(3)
    assert settings == GuildSettings(3, False, 0.25, 5.0, frozenset({31}), frozenset({32}))
    log = await again.audit_log(3)
    assert [e.action for e in log] == ["settings.update", "settings.update"]
    assert log[0].actor_id == ADMIN and log[0].details == {"enabled": False, "learning_channels": ["31"]}


@pytest.mark.parametrize("bad", [{"reply_chance": 1.5}, {"reply_chance": -0.1}, {"cooldown_seconds": -1}])
async def test_invalid_settings_are_refused_and_nothing_changes(storage, bad):
    with pytest.raises(ValueError):
        await storage.update_guild_settings(3, **bad)
    assert await storage.get_guild_settings(3) == GuildSettings(3)
    assert await storage.audit_log(3) == []


async def test_audit_log_is_newest_first_and_per_guild(storage):
    await storage.record_audit("a", guild_id=3, actor_id=ADMIN)
    await storage.record_audit("b", guild_id=4, actor_id=ADMIN, details={"why": "test"})
    await storage.record_audit("c", guild_id=3)
    assert [e.action for e in await storage.audit_log(3)] == ["c", "a"]
    assert (await storage.audit_log(4))[0].details == {"why": "test"}
    assert len(await storage.audit_log(limit=2)) == 2
