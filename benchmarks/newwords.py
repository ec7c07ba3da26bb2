"""A server log of words the base corpus lacks: chit-chat conversations with invented names, games, slang, emoji.

`build_log` takes conversations of the `chitchat-dataset` package (the base corpus; never its held-out test
conversations, which measure the base) and cuts them into short segments of Discord-length turns. In each
segment it substitutes new words for what people talk about, the same word for the same thing throughout the
segment, so a reply to a message naming a game names it too:

    "my roommate" / "your roommate"  → a name        (zephyrine, quorbin, ...)
    "the movie", "games", "a show"   → a game/show   (glimmerquest, krakenrift, ...)
    cool, awesome, nice, dope, ...   → slang         (glorpy, skibbly, ...)
    haha, lol, lmao, hehe            → an emoji      (<:pogfish:…> custom Discord emoji, or 🦑 🪿 … the base lacks)

Segments are drawn in a seeded order and kept while they bring a new word still short of `min_count`
occurrences, each new word going to the least-used of its kind, until every word occurs `min_count` times in
the fine-tune part and `min_heldout` times in the held-out part (split by segment). Same seed, same log.
"""

from __future__ import annotations

import random
import re
from collections import Counter
from collections.abc import Iterable
from dataclasses import dataclass
from functools import cache

from seq2seq.text import corpus
from seq2seq.text.corpus import Pair, is_held_out
from seq2seq.text.subword import normalise

# Invented, and checked absent from the base corpus by `present_in` (build_log refuses any that is not).
NEW_WORDS: dict[str, tuple[str, ...]] = {
    "person": (
        "Zephyrine", "Quorbin", "Tavrik", "Melloquin", "Brisandra", "Jorvald",
        "Kizzamy", "Pellandro", "Vexilla", "Drumbo", "Nyxelle", "Grobnar",
    ),
    "thing": (
        "Glimmerquest", "Voidcrafters", "Snorkelball", "Krakenrift", "Pixelmarsh", "Dungeonbrew", "Mochimancer",
        "Starvault", "Bloxtrot", "Frogspire", "Lunaforge", "Wobblejam", "Cragtopia", "Fizzlebrawl",
    ),
    "slang": ("glorpy", "skibbly", "yeetastic", "blimsy", "zonkin", "flimbo", "squonky", "drippo"),
    "laugh": (
        "<:pogfish:1034567890123456789>", "<:kekwait:1034567890123456790>", "<:blobnod:1034567890123456791>",
        "<:sadcat:1034567890123456792>", "<:pepehands:1034567890123456793>", "<a:partyparrot:1034567890123456794>",
        "<:monkahmm:1034567890123456795>", "<:catjam:1034567890123456796>",
        "🦑", "🪿", "🛸", "🧃", "🪩", "🦦", "🍄", "🫎",
    ),
}  # fmt: skip
# What each kind replaces; the key of a match (group 1, lower case, singular) names the thing within a segment.
ANCHORS: dict[str, re.Pattern] = {
    "person": re.compile(
        r"\b(?:my|your|his|her|our) (best friend|roommate|friend|brother|sister|mom|dad|boyfriend|girlfriend|"
        r"wife|husband|cousin|professor|teacher|coworker|boss)s?\b",
        re.IGNORECASE,
    ),
    "thing": re.compile(
        r"\b(?:(?:the|that|this|a|an|my|your|those|these) )?(movie|game|show|book|band|song|app)s?\b", re.IGNORECASE
    ),
    "slang": re.compile(r"\b(cool|awesome|dope|nice|sweet|amazing)\b", re.IGNORECASE),
    "laugh": re.compile(r"\b(ha(?:ha)+h?|lol|lmao|hehe)\b", re.IGNORECASE),
}
SAME_WORD_FOR_EVERY_ANCHOR = ("slang", "laugh")  # one slang word and one emoji per segment, whatever was replaced
MAX_TURN_CHARS = 280  # Discord-length turns (the learning filters drop turns over 300 characters)
SEGMENT_TURNS = 5


@dataclass(frozen=True)
class NewWordsLog:
    words: tuple[str, ...]  # as written in the log (custom emoji with their ids)
    train: list[Pair]  # the fine-tune part
    heldout: list[Pair]  # other segments: prompts to answer, replies to score
    counts: dict[str, int]  # occurrences of each word in the fine-tune part's turns
    heldout_counts: dict[str, int]


def all_words() -> tuple[str, ...]:
    return tuple(w for kind in NEW_WORDS.values() for w in kind)


def occurrences(word: str, text: str) -> int:
    """How often `word` occurs in `text`, both as the model sees them (`seq2seq.text.subword.normalise`), as a whole
    word: "glorpy" is not found in "glorpyness"."""
    return len(re.findall(r"(?<!\w)" + re.escape(normalise(word)) + r"(?!\w)", normalise(text)))


def words_in(text: str, words: Iterable[str]) -> set[str]:
    return {w for w in words if occurrences(w, text)}


def present_in(words: Iterable[str], texts: Iterable[str]) -> set[str]:
    """The words of `words` that occur in any of `texts`, both normalised as the model sees them: a word as a
    whole word, an emoji anywhere, a custom emoji in its frame or its name as a word."""
    return _present(words, *_index(texts))


@cache
def _base_index() -> tuple[str, set[str]]:
    return _index(base_turns())


def _index(texts: Iterable[str]) -> tuple[str, set[str]]:
    text = "\n".join(normalise(t) for t in texts)
    return text, set(re.findall(r"\w+", text))


def _present(words: Iterable[str], text: str, tokens: set[str]) -> set[str]:
    found = set()
    for word in words:
        form = normalise(word)
        names = re.findall(r"^<a?:(\w+):", form) or ([form] if form.isalnum() else [])
        if any(n in tokens for n in names) or (not form.isalnum() and form in text):
            found.add(word)
    return found


@cache
def _chitchat() -> list[Pair]:
    return corpus.chitchat_pairs()


def base_turns() -> list[str]:
    """Every turn of the base corpus (chit-chat), held-out conversations included."""
    pairs = _chitchat()
    firsts = [p.query for p in pairs if not p.context]
    return firsts + [p.reply for p in pairs]


def segments(base_test_fraction: float) -> list[tuple[str, list[str]]]:
    """(id, turns): runs of up to SEGMENT_TURNS consecutive short turns of each chit-chat conversation the base
    model may have trained on."""
    by_convo: dict[str, list[str]] = {}
    for p in _chitchat():
        turns = by_convo.setdefault(p.group, [])
        if not turns:
            turns.append(p.query)
        turns.append(p.reply)
    out = []
    for convo, turns in by_convo.items():
        if is_held_out("test:" + convo, base_test_fraction):
            continue
        run: list[str] = []
        for turn in [*turns, ""]:  # "" ends the last run
            if 2 <= len(turn) <= MAX_TURN_CHARS and len(run) < SEGMENT_TURNS:
                run.append(turn)
                continue
            if len(run) >= 3:
                out.append((f"{convo}:{len(out)}", run))
            run = [turn] if 2 <= len(turn) <= MAX_TURN_CHARS else []
    return out


def substitute(turns: list[str], pick) -> tuple[list[str], Counter]:
    """The turns with new words for their anchors (`pick(kind, taken)` chooses a word for each new thing, other
    than the segment's `taken` ones); → (turns, occurrences of each new word as the model sees them: a link
    around an anchor becomes <url>, and the word goes with it)."""
    chosen: dict[tuple[str, str], str] = {}

    def replace(kind: str, match: re.Match) -> str:
        key = (kind, "*" if kind in SAME_WORD_FOR_EVERY_ANCHOR else match.group(1).lower())
        if key not in chosen:
            chosen[key] = pick(kind, set(chosen.values()))
        return chosen[key]

    out = []
    for turn in turns:
        for kind, pattern in ANCHORS.items():
            turn = pattern.sub(lambda m, k=kind: replace(k, m), turn)
        out.append(turn)
    used = Counter({w: sum(occurrences(w, t) for t in out) for w in set(chosen.values())})
    return out, +used


def build_log(
    seed: int = 2025, min_count: int = 20, min_heldout: int = 3, heldout_fraction: float = 0.2, base_test_fraction=0.02
) -> NewWordsLog:
    """The log (see the module docstring): every word at least `min_count` times in the fine-tune part and
    `min_heldout` times in the held-out part."""
    words = all_words()
    if clash := _present(words, *_base_index()):
        raise ValueError(f"not new: the base corpus has {sorted(clash)}")
    rng = random.Random(seed)
    pool = segments(base_test_fraction)
    rng.shuffle(pool)
    counts = {"train": Counter(), "heldout": Counter()}
    need = {"train": min_count, "heldout": min_heldout}
    logged: dict[str, list[Pair]] = {"train": [], "heldout": []}
    for seg_id, turns in pool:
        part = "heldout" if is_held_out("newwords:" + seg_id, heldout_fraction) else "train"
        short = {w for w in words if counts[part][w] < need[part]}
        if not short:
            continue

        def pick(kind: str, taken: set[str], part=part) -> str:  # the least-used free word; ties in seeded order
            free = [w for w in NEW_WORDS[kind] if w not in taken] or list(NEW_WORDS[kind])
            return min(free, key=lambda w: (counts[part][w], rng.random()))

        new_turns, used = substitute(turns, pick)
        if not short & set(used):
            continue
        counts[part].update(used)
        logged[part] += [
            Pair(new_turns[i], new_turns[i + 1], new_turns[i - 1] if i else "", seg_id)
            for i in range(len(new_turns) - 1)
        ]
        if all(counts[p][w] >= need[p] for p in counts for w in words):
            break
    else:
        raise ValueError("the base corpus ran out of segments before every new word was used often enough")
    return NewWordsLog(
        words,
        logged["train"],
        logged["heldout"],
        {w: counts["train"][w] for w in words},
        {w: counts["heldout"][w] for w in words},
    )
