"""What a fine-tune may learn from: blocklist, lengths, links/code/mentions, duplicates.

One person's share is capped where authors are known, by the bot's export; the worker never sees them.
"""

from __future__ import annotations

import re
from collections import Counter
from collections.abc import Iterable
from dataclasses import dataclass, field

from seq2seq.protocol.blocklist import Blocklist
from seq2seq.text.corpus import Pair

_LINK = re.compile(r"https?://|www\.", re.IGNORECASE)
_CODE = re.compile(r"```|`[^`]+`")
_MENTION = re.compile(r"<@[!&]?\d+>|@everyone|@here")


@dataclass(frozen=True)
class FilterConfig:
    min_chars: int = 2
    max_chars: int = 300
    blocklist: Blocklist = field(default_factory=Blocklist.default)
    max_reply_repeats: int = 2  # the same reply text is learned at most this often ("Tay" floods)
    allow_links: bool = False
    allow_code: bool = False
    allow_mentions: bool = False


@dataclass
class FilterReport:
    kept: list[Pair]
    dropped: Counter

    def to_json(self) -> dict:
        return {"kept": len(self.kept), "dropped": dict(self.dropped)}


def filter_pairs(pairs: Iterable[Pair], cfg: FilterConfig) -> FilterReport:
    """Apply every learning filter; the report counts what each one removed."""
    dropped: Counter = Counter()
    seen: set[tuple[str, str]] = set()
    reply_counts: Counter = Counter()
    survivors: list[Pair] = []
    for pair in pairs:
        reason = _reject_reason(pair, cfg)
        key = (pair.query.strip().lower(), pair.reply.strip().lower())
        if reason is None and key in seen:
            reason = "duplicate"
        if reason is None and reply_counts[key[1]] >= cfg.max_reply_repeats:
            reason = "repeated_reply"
        if reason:
            dropped[reason] += 1
            continue
        seen.add(key)
        reply_counts[key[1]] += 1
        survivors.append(pair)
    return FilterReport(survivors, dropped)


def _reject_reason(pair: Pair, cfg: FilterConfig) -> str | None:
    for text in (pair.query, pair.reply):
        stripped = text.strip()
        if len(stripped) < cfg.min_chars:
            return "too_short"
        if len(stripped) > cfg.max_chars:
            return "too_long"
        if not cfg.allow_links and _LINK.search(text):
            return "link"
        if not cfg.allow_code and _CODE.search(text):
            return "code"
        if not cfg.allow_mentions and _MENTION.search(text):
            return "mention"
        if cfg.blocklist.matches(text):
            return "blocklist"
    return None
