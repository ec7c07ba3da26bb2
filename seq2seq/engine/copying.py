"""A server's own words in the serving model: written beside the engine at export, found in conversations to copy.

A fine-tune on a server's log learns its words (nicknames, games, custom emoji: `train.distill.ServerWords`), yet
a reply seldom names one the conversation just named: a name is rare in any one position, so sampling seldom draws
it (learncheck's new-words log: the chosen reply copied one for 4 of 191 prompts holding one, 9 of the 12 invented
names were never said). The engine therefore adds, for each server word in the conversation, hypotheses that open
with it (CTranslate2's target prefix), and ranks them with the others by the same score: a copy is said only when
the model, the anti-LM and the repeat penalty prefer it.
"""

from __future__ import annotations

import json
import os
from collections.abc import Iterable, Sequence
from pathlib import Path

from seq2seq.text.subword import opens_word, word_spans

WORDS_FILE = "server_words.json"
FORMAT = 1
WORDS_PER_CONVERSATION = 2  # the latest distinct server words of a conversation that are copied


def write_words(folder: Path | str, words: Iterable[Sequence[str]]) -> None:
    """Write the server's words (each as its pieces) beside the engine; none: no file."""
    folder, listed = Path(folder), sorted({tuple(w) for w in words if w})
    file = folder / WORDS_FILE
    if not listed:
        file.unlink(missing_ok=True)
        return
    tmp = folder / (WORDS_FILE + ".tmp")
    tmp.write_text(json.dumps({"format": FORMAT, "words": [list(w) for w in listed]}, ensure_ascii=False) + "\n")
    os.replace(tmp, file)


def read_words(folder: Path | str) -> frozenset[tuple[str, ...]]:
    """The server's words of an exported model (none for a base model, or a folder from before they were kept)."""
    file = Path(folder) / WORDS_FILE
    if not file.exists():
        return frozenset()
    data = json.loads(file.read_text(encoding="utf-8"))
    if data.get("format") != FORMAT:
        raise ValueError(f"{file}: unknown format {data.get('format')!r}")
    return frozenset(tuple(str(p) for p in w) for w in data["words"] if w)


def words_in(source: Sequence[str], words: frozenset[tuple[str, ...]]) -> list[tuple[str, ...]]:
    """The server words a source's pieces hold, whole words only, the latest first, each once, at most
    `WORDS_PER_CONVERSATION`: the message's own before its context's."""
    if not words:
        return []
    found: list[tuple[str, ...]] = []
    for a, b in reversed(word_spans([opens_word(piece) for piece in source])):
        word = tuple(source[a:b])
        if word in words and word not in found:
            found.append(word)
            if len(found) == WORDS_PER_CONVERSATION:
                break
    return found
