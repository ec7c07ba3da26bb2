"""Distillation toward the model a fine-tune starts from: soft targets that keep what the log does not teach.

A fine-tune that fits a small log for many epochs drifts everywhere, not only where the log differs from what
the model knew (learncheck's new-words log: replies without any new word worsened as much as replies with one).
Continued training with the starting model as a teacher (Khayrallah et al., 2018, "Regularized training
objective for continued training for domain adaptation in neural machine translation") trains each target piece
toward a mix: (1 - share) of the gold piece, label-smoothed as usual, and `share` of the starting model's whole
next-piece distribution. The server's own words (far more common in the log than in the base sample: nicknames,
games, custom emoji) are learned from the log alone, every piece of them, so they are learned at full strength.

Measured on learncheck's new-words log (tagged, 20 epochs, unblended; base word perplexity 125.6): no distillation
used 54% of the new words and followed the human in 31%, base +18.8%; share 0.5 everywhere: 2% and 0%, base +2.4%;
share 0.5 except where the teacher gave the gold piece under 0.01 (42% of the log's pieces): 48% and 23%, +9.6%;
share 0.5 except inside the server's words (11% of the log's pieces), as here: 60% and 26%, +4.4%, and the gate
accepted it whole (learncheck, bench-results/learncheck-newwords-distill.json).
"""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass

import numpy as np

from seq2seq.text.subword import opens_word, word_spans
from seq2seq.text.vocab import PAD_ID, SERVER_TAG_ID


@dataclass(frozen=True)
class Distillation:
    """How a fine-tune distils toward its starting weights."""

    share: float  # of each target given to the teacher's distribution, in (0, 1)
    reads_tag: bool = False  # the teacher was itself fine-tuned on a server log: it reads the server tag


class Distiller:
    """The starting weights, frozen, turning each batch's gold pieces into soft targets (B, T, V)."""

    def __init__(self, teacher, vocab_size: int, settings: Distillation, smoothing: float, words: ServerWords):
        if not 0 < settings.share < 1:
            raise ValueError("distillation share must be in (0, 1)")
        self.teacher = teacher  # a built Keras model holding the starting weights; never trained
        self.vocab_size = vocab_size
        self.share = settings.share
        self.words = words
        self.reads_tag = settings.reads_tag  # a base never fine-tuned never saw the tag: it reads the untagged source
        self.smoothing = smoothing

    def teacher_probs(self, src: np.ndarray, t_in: np.ndarray) -> np.ndarray:
        """(B, T, V): the starting model's next-piece distribution at each target position."""
        if not self.reads_tag:
            src = untagged(src)
        logits = np.asarray(self.teacher.predict_on_batch((src, t_in)), dtype=np.float32)
        logits -= logits.max(axis=-1, keepdims=True)
        probs = np.exp(logits)
        probs /= probs.sum(axis=-1, keepdims=True)
        return probs

    def targets(self, src: np.ndarray, t_in: np.ndarray, t_out: np.ndarray) -> np.ndarray:
        """(B, T, V) soft targets; padding positions are all zero (the loss skips them). Built in the teacher's
        array: a step holds one (B, T, V) array, not three."""
        soft = self.teacher_probs(src, t_in)
        gold = t_out[..., None].astype(np.int64)
        weight = np.where(self.words.positions(t_out), 0.0, self.share).astype(np.float32)[..., None]
        soft *= weight  # the teacher's share ...
        soft += (1.0 - weight) * (self.smoothing / self.vocab_size)  # ... the gold's smoothing, spread ...
        at_gold = np.take_along_axis(soft, gold, axis=-1) + (1.0 - weight) * (1.0 - self.smoothing)
        np.put_along_axis(soft, gold, at_gold, axis=-1)  # ... and the gold piece itself
        soft *= (t_out != PAD_ID)[..., None]
        return soft


class ServerWords:
    """Words (runs of pieces, each starting at a piece that opens a word) far more common in the new pairs'
    replies than in the replayed base pairs': what the log teaches that the base does not know."""

    MIN_COUNT = 5  # in distinct new replies: a word met once or twice is not yet the server's
    MIN_RATIO = 10.0  # its rate per piece in the new replies over its rate in the base replies (+1 smoothing)

    def __init__(self, openings: np.ndarray, words: frozenset[tuple[int, ...]] = frozenset()):
        self.openings = openings  # (V,) bool: the piece starts a word (`subword.opens_word`)
        self.words = words

    @classmethod
    def find(cls, openings: np.ndarray, new: list[np.ndarray], base: list[np.ndarray]) -> ServerWords:
        """From the distinct new replies and the base replies (piece ids, each ending in EOS)."""
        splitter = cls(openings)
        new_counts = Counter(w for t in new for _, _, w in splitter.words_of(t))
        base_counts = Counter(w for t in base for _, _, w in splitter.words_of(t))
        new_total = max(1, sum(len(t) for t in new))
        base_total = max(1, sum(len(t) for t in base))
        return cls(
            openings,
            frozenset(
                w
                for w, n in new_counts.items()
                if n >= cls.MIN_COUNT and n / new_total >= cls.MIN_RATIO * (base_counts[w] + 1) / base_total
            ),
        )

    def words_of(self, target: np.ndarray):
        """(start, end, word) for each word of a row of piece ids."""
        for a, b in word_spans(self.openings[target]):
            yield a, b, tuple(int(i) for i in target[a:b])

    def positions(self, t_out: np.ndarray) -> np.ndarray:
        """(B, T) bool: the target positions inside a server word."""
        mask = np.zeros(t_out.shape, dtype=bool)
        if self.words:
            for row, target in enumerate(t_out):
                for a, b, word in self.words_of(target):
                    mask[row, a:b] = word in self.words
        return mask


def word_openings(pieces: list[str]) -> np.ndarray:
    """(V,) bool from the vocabulary's pieces: `subword.opens_word` of each."""
    return np.array([opens_word(p) for p in pieces], dtype=bool)


def untagged(src: np.ndarray) -> np.ndarray:
    """Sources with a leading server tag shifted left one place (padding at the end): the untagged source."""
    tagged = src[:, 0] == SERVER_TAG_ID
    if not tagged.any():
        return src
    out = src.copy()
    out[tagged, :-1] = src[tagged, 1:]
    out[tagged, -1] = PAD_ID
    return out


def soft_loss(soft_targets, logits):
    """Cross-entropy with soft targets (B, T, V), averaged over the positions that have any (not padding)."""
    from keras import ops

    log_probs = ops.log_softmax(ops.cast(logits, "float32"), axis=-1)
    per_token = -ops.sum(soft_targets * log_probs, axis=-1)
    mask = ops.cast(ops.sum(soft_targets, axis=-1) > 0, "float32")
    return ops.sum(per_token * mask) / ops.maximum(ops.sum(mask), 1.0)
