"""Admin answers as people read them: a guild's settings, the model versions, the bot's status."""

from __future__ import annotations

import time
from collections.abc import Iterable
from datetime import UTC, datetime

from bot.storage import GuildSettings
from seq2seq.protocol import ModelInfo


def _channels(ids: Iterable[int]) -> str:
    ids = sorted(ids)
    return ", ".join(f"<#{i}>" for i in ids) if ids else "none"


def settings_text(s: GuildSettings) -> str:
    return (
        f"**Banter here**: {'on' if s.enabled else 'off'}\n"
        f"• learns from: {_channels(s.learning_channels)}\n"
        f"• answers by chance in: {_channels(s.reply_channels)} (mentions, replies and DMs are answered anywhere)\n"
        f"• reply chance: {s.reply_chance:.0%} of messages in those channels\n"
        f"• cooldown between unprompted replies in a channel: {s.cooldown_seconds:g} s"
    )


def _metric(metrics: dict, key: str) -> str:
    value = metrics.get(key)
    return f"{value:.3g}" if isinstance(value, (int, float)) else "n/a"


def models_text(active: str | None, versions: list[ModelInfo]) -> str:
    if not versions:
        return "The worker has no model versions."
    lines = [f"**Model versions** (active: `{active or 'none'}`)"]
    for v in versions[:15]:
        mark = "▶" if v.version == active else "•"
        line = (
            f"{mark} `{v.version}`: {v.status}, validation perplexity {_metric(v.metrics, 'val_perplexity')}, "
            f"test perplexity {_metric(v.metrics, 'test_perplexity')}"
        )
        if v.parent:
            line += f", from `{v.parent}`"
        if v.created:
            line += f", {v.created[:16].replace('T', ' ')}"
        if v.error:
            line += f" (refused: {v.error[:80]})"
        lines.append(line)
    return "\n".join(lines)[:1900]


def _ago(timestamp: float) -> str:
    seconds = max(0, int(time.time() - timestamp))
    return (
        f"{seconds // 3600} h {seconds % 3600 // 60} min"
        if seconds >= 3600
        else f"{seconds // 60} min {seconds % 60} s"
    )


def worker_line(health, info: dict | None) -> str:
    if not health.up:
        return f"**Worker**: resting since {_ago(health.since)} ago ({health.last_error or 'unreachable'})"
    if info is None:
        return "**Worker**: not answering its health check right now"
    return f"**Worker**: up, model `{info.get('model_version') or 'none loaded'}`, queue {info.get('queue_depth', '?')}"


def storage_line(backlog) -> str:
    """Storage's writes: normal, or held while the database is locked (nothing is lost; the backlog is bounded)."""
    if backlog.locked_since is not None:
        return (
            f"**Storage**: the database has been locked for {_ago(backlog.locked_since)}; "
            f"{backlog.waiting} write(s) held until it is free again, none lost"
        )
    in_progress = f", {backlog.waiting} write(s) in progress" if backlog.waiting else ""
    return f"**Storage**: writing normally{in_progress}"


def next_finetune_line(running: bool, when: datetime | None, new_pairs: int, min_pairs: int, enabled: bool) -> str:
    if running:
        return "**Fine-tune**: running now"
    if not enabled:
        return "**Fine-tune**: not scheduled (only `/banter retrain`)"
    need = f"{new_pairs}/{min_pairs} new pairs"
    if when is None or when <= datetime.now(UTC):
        return f"**Next fine-tune**: as soon as there are enough new pairs ({need})"
    return f"**Next fine-tune**: <t:{int(when.timestamp())}:R> if there are enough new pairs ({need})"
