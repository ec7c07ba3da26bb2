"""What a fine-tune may learn from: blocklist, lengths, links/code/mentions, duplicates, one person's share."""

from __future__ import annotations

import re
from collections import Counter, defaultdict
from collections.abc import Iterable
from dataclasses import dataclass, field
from functools import lru_cache

from seq2seq.corpus import Pair
from seq2seq.text import tokenize

# better-profanity's list also holds everyday words; blocking these would silence ordinary chat.
MILD = frozenset(
    {
        "hell",
        "damn",
        "crap",
        "kill",
        "killing",
        "stupid",
        "sexy",
        "drunk",
        "god",
        "weed",
        "ugly",
        "fat",
        "dumb",
        "suck",
        "sucks",
        "butt",
        "bloody",
        "piss",
        "pissed",
        "screw",
        "hate",
        "sex",
        "naked",
        "nude",
        "breasts",
        "beer",
        "wine",
        "vodka",
        "kinky",
        "xxx",
        "lust",
        "seduce",
        "strip",
        "hump",
        "fart",
        "poop",
    }
)
_LINK = re.compile(r"https?://|www\.", re.IGNORECASE)
_CODE = re.compile(r"```|`[^`]+`")
_MENTION = re.compile(r"<@[!&]?\d+>|@everyone|@here")


@lru_cache(maxsize=1)
def default_blocklist() -> frozenset[str]:
    """Single-word entries of better-profanity's word list, minus the mild everyday words."""
    from importlib.resources import files

    text = files("better_profanity").joinpath("profanity_wordlist.txt").read_text(encoding="utf-8")
    return frozenset(w.strip().lower() for w in text.splitlines() if w.strip() and " " not in w.strip()) - MILD


def build_blocklist(extra: Iterable[str] = (), use_default: bool = True) -> frozenset[str]:
    words = {w.strip().lower() for w in extra if w and w.strip()}
    return frozenset(words | (default_blocklist() if use_default else frozenset()))


def contains_blocked(text: str, blocklist: frozenset[str]) -> bool:
    if not blocklist:
        return False
    return any(token in blocklist for token in tokenize(text))


@dataclass(frozen=True)
class FilterConfig:
    min_chars: int = 2
    max_chars: int = 300
    blocklist: frozenset[str] = field(default_factory=build_blocklist)
    max_share_per_user: float = 0.10  # of the new pairs; no one person can steer the model
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
    kept = _cap_per_author(survivors, cfg.max_share_per_user, dropped)
    return FilterReport(kept, dropped)


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
        if contains_blocked(text, cfg.blocklist):
            return "blocklist"
    return None


def _cap_per_author(pairs: list[Pair], share: float, dropped: Counter) -> list[Pair]:
    """Keep at most `share` of the pairs from any one author (unknown authors are not capped)."""
    if share >= 1.0 or not pairs:
        return pairs
    cap = max(1, int(share * len(pairs)))
    taken: dict[str, int] = defaultdict(int)
    kept = []
    for pair in pairs:
        if pair.author:
            if taken[pair.author] >= cap:
                dropped["user_share"] += 1
                continue
            taken[pair.author] += 1
        kept.append(pair)
    return kept
