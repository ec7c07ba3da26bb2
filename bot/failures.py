"""Failures of talking to Discord: which exceptions they are, and how one is worded in a single log line."""

from __future__ import annotations

import aiohttp
import discord

# Discord could not be reached: a refused or dropped connection, a timeout (TimeoutError is an OSError).
CONNECTION_ERRORS = (aiohttp.ClientError, OSError)
# ...or it answered with an error (a 5xx past discord.py's own retries included).
DISCORD_ERRORS = (discord.HTTPException, *CONNECTION_ERRORS)

LIMIT = 300


def describe(exc: BaseException) -> str:
    """`ClientConnectorError: Cannot connect to host ...`: one line, at most LIMIT characters."""
    text = " ".join(str(exc).split())  # Discord's form errors and driver messages span lines
    line = f"{type(exc).__name__}: {text}" if text else type(exc).__name__
    return line if len(line) <= LIMIT else line[: LIMIT - 1] + "…"
