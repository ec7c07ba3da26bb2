"""Command sync only when the command tree changed: its JSON is hashed and the hash kept under the state dir."""

from __future__ import annotations

import hashlib
import json
import logging
import os
from pathlib import Path

from discord import app_commands

from bot.failures import DISCORD_ERRORS, describe

log = logging.getLogger("banter.sync")

STATE_FILE = "command-tree.json"


def tree_hash(tree: app_commands.CommandTree) -> str:
    commands = sorted((c.to_dict(tree) for c in tree.get_commands()), key=lambda c: c["name"])
    return hashlib.sha256(json.dumps(commands, sort_keys=True, separators=(",", ":")).encode()).hexdigest()


def _read(path: Path) -> dict:
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
        return data if isinstance(data, dict) else {}
    except (OSError, ValueError):
        return {}


async def sync_if_changed(
    tree: app_commands.CommandTree, application_id: int, state_dir: Path, *, force: bool = False
) -> bool:
    """PUT the global commands unless this application already has exactly these. True if it synced.

    Discord allows 200 command creations a day: a restart must not spend any. A sync Discord refuses
    (a 400, a 5xx past discord.py's retries, no connection) must not keep the bot off Discord: it runs
    with the commands Discord already has, and the next start tries again (the hash is not stored).
    """
    path = Path(state_dir) / STATE_FILE
    stored = _read(path)
    digest = tree_hash(tree)
    if not force and stored.get(str(application_id)) == digest:
        log.info("slash commands unchanged: not syncing")
        return False
    try:
        synced = await tree.sync()
    except DISCORD_ERRORS as exc:
        log.error(
            "could not sync the slash commands (%s): running with the ones Discord already has; "
            "the next start tries again",
            describe(exc),
        )
        return False
    stored[str(application_id)] = digest
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_suffix(".tmp")
    tmp.write_text(json.dumps(stored, indent=2), encoding="utf-8")
    os.replace(tmp, path)
    log.info("synced %d slash command(s)", len(synced))
    return True
