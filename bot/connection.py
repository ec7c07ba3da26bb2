"""Keeping the bot on Discord: log in (waiting while Discord is unreachable), reconnect after any unexpected
gateway error with back-off, drop a malformed event instead of the connection, and give up only when Discord
refuses the bot as it is configured (the token, a privileged intent)."""

from __future__ import annotations

import asyncio
import contextlib
import logging
import time
from collections.abc import Callable

import discord

from bot.backoff import Backoff
from bot.config import TOKEN_ENV
from bot.failures import DISCORD_ERRORS, describe

log = logging.getLogger("banter.connection")

# Gateway close codes after which Discord will not take the bot back until its configuration changes;
# discord.py closes the client for each of these (4014 arrives as PrivilegedIntentsRequired).
REFUSALS = {
    4004: f"Discord refused the token in {TOKEN_ENV}",
    4010: "Discord refused the shard settings (invalid shard)",
    4011: "Discord requires this bot to be sharded",
    4012: "Discord refused the gateway API version",
    4013: "Discord refused the gateway intents as invalid",
    4014: "enable the Message Content intent for this bot in the Discord developer portal "
    "(Bot → Privileged Gateway Intents)",
}
UNGUARDED_EVENTS = frozenset({"READY", "RESUMED"})  # without these the session is not usable: reconnect instead


class Refused(Exception):
    """Discord refuses the bot as configured; retrying cannot help. `str()` is the line to print."""


class OneLineReconnects(logging.Filter):
    """discord.py logs each of its own reconnect attempts (Discord unreachable mid-session) with a whole
    traceback; the attempt and the error's one-line description say the same."""

    def filter(self, record: logging.LogRecord) -> bool:
        if record.exc_info and str(record.msg).startswith("Attempting a reconnect"):
            record.msg = f"{record.getMessage()} ({describe(record.exc_info[1])})"
            record.args, record.exc_info, record.exc_text = (), None, None
        return True


def quiet_reconnect_tracebacks() -> None:
    logger = logging.getLogger("discord.client")
    if not any(isinstance(f, OneLineReconnects) for f in logger.filters):
        logger.addFilter(OneLineReconnects())


def drop_malformed_events(client: discord.Client) -> None:
    """A gateway event discord.py cannot parse (a MESSAGE_CREATE with `"guild_id": null` raised TypeError) costs
    that one event and a log line, not the connection with everything after it. The parsers are discord.py's
    per-event table; if a later discord.py renames it, the reconnect in `stay_on_discord` still covers it."""
    parsers = getattr(getattr(client, "_connection", None), "parsers", None)
    if not isinstance(parsers, dict):
        log.warning("this discord.py has no parser table: a malformed event will cost a reconnect")
        return
    for event, parse in list(parsers.items()):
        if event not in UNGUARDED_EVENTS:
            parsers[event] = _dropping_malformed(event, parse)


def _dropping_malformed(event: str, parse: Callable[[dict], None]) -> Callable[[dict], None]:
    def guarded(data: dict) -> None:
        try:
            parse(data)
        except Exception as exc:  # noqa: BLE001 - one bad event must not end the session
            log.error("dropped a malformed %s event from Discord (%s)", event, describe(exc))

    return guarded


async def stay_on_discord(
    new_bot: Callable[[], discord.Client], token: str, stop: asyncio.Event, *, backoff: Backoff | None = None
) -> None:
    """Run a bot from `new_bot()` until `stop` is set. Raises Refused when Discord will not take it.

    A failed login gets a fresh bot (its HTTP session is spent); a failed connection reconnects the same one,
    so its state (cooldowns, a fine-tune in progress) carries over.
    """
    backoff = backoff or Backoff()
    quiet_reconnect_tracebacks()
    while not stop.is_set():
        async with new_bot() as bot:
            closer = asyncio.create_task(_close_when(stop, bot))
            try:
                delay = await _log_in(bot, token, stop, backoff)
                if delay is None:
                    delay = await _stay_connected(bot, stop, backoff)
            finally:
                if stop.is_set():
                    await closer  # let a close in progress finish
                else:
                    closer.cancel()
        if delay is not None:
            await _sleep(stop, delay)


async def _log_in(bot: discord.Client, token: str, stop: asyncio.Event, backoff: Backoff) -> float | None:
    """None once logged in (or stopped); else how long to wait before trying again."""
    try:
        await bot.login(token)
    except discord.LoginFailure:
        raise Refused(REFUSALS[4004]) from None
    except Exception as exc:
        if stop.is_set():
            return None  # closed while logging in: whatever that broke does not matter now
        if not isinstance(exc, DISCORD_ERRORS):
            raise
        delay = backoff.next()
        log.warning("cannot log in to Discord (%s): trying again in %.0f s", describe(exc), delay)
        return delay
    return None


async def _stay_connected(bot: discord.Client, stop: asyncio.Event, backoff: Backoff) -> float | None:
    """Keep the gateway up until `stop`. A delay means the bot was closed under us: start a new one after it."""
    while not stop.is_set():
        started = time.monotonic()
        try:
            await bot.connect(reconnect=True)  # discord.py itself resumes after drops and network errors
            return None
        except discord.PrivilegedIntentsRequired:
            raise Refused(REFUSALS[4014]) from None
        except discord.ConnectionClosed as exc:
            if exc.code in REFUSALS:
                raise Refused(f"{REFUSALS[exc.code]} (gateway close code {exc.code})") from None
            failure: Exception = exc
        except Exception as exc:  # noqa: BLE001 - whatever escapes discord.py, the bot stays up
            failure = exc
        if stop.is_set():
            return None
        if time.monotonic() - started > backoff.ceiling:
            backoff.reset()  # that connection lasted: this is a new failure, not a streak
        delay = backoff.next()
        log.error("the Discord gateway failed (%s): reconnecting in %.0f s", describe(failure), delay)
        if bot.is_closed():
            return delay
        if bot.ws is not None:
            with contextlib.suppress(*DISCORD_ERRORS):
                await bot.ws.close(code=4000)  # the failed socket is still open, its heartbeat thread running
        await _sleep(stop, delay)
    return None


async def _close_when(stop: asyncio.Event, bot: discord.Client) -> None:
    await stop.wait()
    await bot.close()


async def _sleep(stop: asyncio.Event, seconds: float) -> None:
    """Sleep, but wake at once when `stop` is set."""
    with contextlib.suppress(TimeoutError):
        await asyncio.wait_for(stop.wait(), seconds)
