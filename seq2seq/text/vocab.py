"""The word vocabulary: special tokens, frequency cut-off, id mapping and its file format."""

from __future__ import annotations

import json
from collections import Counter
from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path

PAD, UNK, BOS, EOS, SEP = "<pad>", "<unk>", "<s>", "</s>", "<sep>"
SPECIALS = (PAD, UNK, BOS, EOS, SEP)
PAD_ID, UNK_ID, BOS_ID, EOS_ID, SEP_ID = range(len(SPECIALS))
# Marks a source as one of the server's own conversations (fine-tunes tag the log's pairs, not the replayed base
# pairs, and the fine-tuned model tags every message it answers), so the model can take on the server's way of
# talking without the base pairs pulling it back. BOS, which only ever starts a target, keeps the vocabulary
# (and so every fine-tune's tokenizer) unchanged.
SERVER_TAG_ID = BOS_ID


@dataclass(frozen=True)
class Vocabulary:
    """Maps tokens to ids; ids below len(SPECIALS) are the special tokens."""

    tokens: tuple[str, ...]

    def __post_init__(self) -> None:
        if self.tokens[: len(SPECIALS)] != SPECIALS:
            raise ValueError("vocabulary must start with the special tokens " + ", ".join(SPECIALS))
        object.__setattr__(self, "_index", {t: i for i, t in enumerate(self.tokens)})

    @classmethod
    def build(cls, token_lists: Iterable[list[str]], size: int) -> Vocabulary:
        """The `size` most frequent tokens (ties broken alphabetically, so builds repeat)."""
        counts: Counter[str] = Counter()
        for tokens in token_lists:
            counts.update(tokens)
        for special in SPECIALS:
            counts.pop(special, None)
        ranked = sorted(counts.items(), key=lambda kv: (-kv[1], kv[0]))[:size]
        return cls(SPECIALS + tuple(token for token, _ in ranked))

    def __len__(self) -> int:
        return len(self.tokens)

    def id(self, token: str) -> int:
        return self._index.get(token, UNK_ID)  # type: ignore[attr-defined]

    def encode(self, tokens: list[str]) -> list[int]:
        return [self.id(t) for t in tokens]

    def decode(self, ids: Iterable[int]) -> list[str]:
        """Tokens up to the first EOS, without specials."""
        out = []
        for i in ids:
            i = int(i)
            if i == EOS_ID:
                break
            if i >= len(SPECIALS):
                out.append(self.tokens[i])
        return out

    def unk_rate(self, token_lists: Iterable[list[str]]) -> float:
        total = unknown = 0
        for tokens in token_lists:
            total += len(tokens)
            unknown += sum(1 for t in tokens if t not in self._index)  # type: ignore[attr-defined]
        return unknown / max(total, 1)

    def save(self, path: Path) -> None:
        path.write_text(json.dumps({"tokens": list(self.tokens)}, ensure_ascii=False), encoding="utf-8")

    @classmethod
    def load(cls, path: Path) -> Vocabulary:
        try:
            data = json.loads(path.read_text(encoding="utf-8"))
            return cls(tuple(data["tokens"]))
        except FileNotFoundError:
            raise
        except (ValueError, KeyError, TypeError) as exc:
            raise ValueError(f"{path} is not a valid vocabulary file: {exc}") from exc
