"""An interaction's response that updates as long work goes on, at a pace Discord is happy with."""

from __future__ import annotations

import logging
import time

import discord

log = logging.getLogger("banter.progress")


class ProgressMessage:
    """Edits the deferred response at most every `interval` seconds; the final edit always goes out."""

    def __init__(self, interaction: discord.Interaction, interval: float = 2.0):
        self.interaction = interaction
        self.interval = interval
        self._last = 0.0
        self._text = ""
        self.alive = True  # False once Discord refused an edit (the token lasts 15 minutes)

    async def update(self, content: str) -> None:
        if content == self._text or time.monotonic() - self._last < self.interval:
            return
        await self._edit(content=content)

    async def finish(self, content: str, file: discord.File | None = None) -> bool:
        return await self._edit(content=content, attachments=[file] if file else discord.utils.MISSING)

    async def _edit(self, **kwargs) -> bool:
        if not self.alive:
            return False
        try:
            await self.interaction.edit_original_response(**kwargs)
        except discord.HTTPException as exc:
            log.info(
                "could not update the response of /%s: %s",
                self.interaction.command and self.interaction.command.qualified_name,
                exc,
            )
            self.alive = False
            return False
        self._last, self._text = time.monotonic(), kwargs.get("content", self._text)
        return True
