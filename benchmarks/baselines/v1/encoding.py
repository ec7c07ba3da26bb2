"""v1's word encoding: conversations and replies as word-vocabulary ids, in the padded batches of `train.batching`."""

from __future__ import annotations

import numpy as np

from seq2seq.text.corpus import Pair
from seq2seq.text.vocab import EOS_ID, SEP_ID, Vocabulary
from seq2seq.text.words import tokenize
from seq2seq.train.batching import EncodedPairs


def encode_source(
    vocab: Vocabulary, query: str, context: list[str] | str, max_len: int, context_turns: int
) -> list[int]:
    """Previous turn(s), a separator, then the query; the oldest tokens are dropped first."""
    turns = [context] if isinstance(context, str) else list(context)
    turns = [t for t in turns if t][-context_turns:] if context_turns else []
    ids: list[int] = []
    for turn in turns:
        ids += vocab.encode(tokenize(turn)) + [SEP_ID]
    ids += vocab.encode(tokenize(query))
    return ids[-max_len:]


def encode_target(vocab: Vocabulary, reply: str, max_len: int) -> list[int]:
    return vocab.encode(tokenize(reply))[:max_len] + [EOS_ID]


def encode_pairs(
    pairs: list[Pair], vocab: Vocabulary, max_source_len: int, max_target_len: int, context_turns: int
) -> EncodedPairs:
    sources, targets = [], []
    for p in pairs:
        src = encode_source(vocab, p.query, p.context, max_source_len, context_turns)
        if not src:
            src = [SEP_ID]  # an empty message still gets an answer
        sources.append(np.asarray(src, dtype=np.int32))
        targets.append(np.asarray(encode_target(vocab, p.reply, max_target_len), dtype=np.int32))
    return EncodedPairs(sources, targets)
