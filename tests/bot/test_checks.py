"""The command tree's answers when a command fails: what an option expected, and a failed answer kept in the log."""

from __future__ import annotations

import logging

from tests.bot.conftest import eventually
from tests.discord_server.state import GUILD_VOICE


async def test_an_option_that_fails_to_convert_says_what_was_expected(server, world, fake_worker, start_bot):
    # Issue 12, item 13: the person was shown a Python repr (`<AppCommandChannel id=... >`, `<Object id=...>`).
    lounge = server.add_channel(world.guild, "Lounge", type=GUILD_VOICE)
    async with start_bot(fake_worker.url):
        record = await server.invoke_slash(
            world.guild, world.general, world.alice, "banter", "channels", options={"channel": lounge, "learn": True}
        )
        await record.wait(lambda r: r.response_type == 4)
        text = record.callbacks[0]["data"]["content"]
        assert record.ephemeral
        assert text == "`channel` needs a text or announcement channel in this server; what was given isn't one."


async def test_an_answer_lost_to_a_dropped_connection_is_one_log_line(server, world, fake_worker, start_bot, caplog):
    # Issue 12, item 13: only HTTPException was caught, so a connection error escaped the error handler
    # ("Task exception was never retrieved").
    drop = server.fail("POST", "/interactions/{interaction_id}/{token}/callback", status=None)
    async with start_bot(fake_worker.url):
        with caplog.at_level(logging.WARNING, logger="banter.commands"):
            await server.invoke_slash(world.guild, world.general, world.carol, "banter", "retrain")
            await server.wait_until(lambda: drop.hits)
            await eventually(lambda: [r for r in caplog.records if r.name == "banter.commands"])
    [line] = [r for r in caplog.records if r.name == "banter.commands"]
    assert line.levelno == logging.WARNING and line.exc_info is None
    assert line.getMessage().startswith("slash command /banter retrain: could not send its answer: ")
    assert "ServerDisconnectedError" in line.getMessage()


async def test_a_command_cut_off_from_discord_logs_one_line_and_asks_to_try_again(
    server, world, fake_worker, start_bot, caplog
):
    drop = server.fail("POST", "/interactions/{interaction_id}/{token}/callback", status=None)  # the defer
    async with start_bot(fake_worker.url):
        with caplog.at_level(logging.WARNING, logger="banter.commands"):
            record = await server.invoke_slash(world.guild, world.general, world.app_owner, "banter", "models")
            await record.wait(lambda r: r.response_type == 4)
    assert drop.hits and record.ephemeral
    assert record.callbacks[-1]["data"]["content"] == "I couldn't reach Discord just then; please try again."
    [line] = [r for r in caplog.records if r.name == "banter.commands"]
    assert line.levelno == logging.WARNING and line.exc_info is None
    assert line.getMessage().startswith("slash command /banter models: talking to Discord failed: ")
