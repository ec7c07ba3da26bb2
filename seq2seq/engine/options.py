"""Decoding settings of the engine, as data: `engine.decoding.DecodeOptions`' fields, lengths in subword pieces."""

from __future__ import annotations

import math
from dataclasses import asdict, dataclass, fields

from seq2seq.engine.decoding import STRATEGIES, DecodeOptions

# A v1 word is about this many v2 pieces (1.10 on held-out chit-chat replies: benchmarks/subword_bench.py);
# it turns a word budget from the bot's requests into a piece budget.
PIECES_PER_WORD = 1.1
MAX_PIECES = 256


@dataclass(frozen=True)
class EngineOptions:
    """What `DecodeOptions` means, served by CTranslate2: beam/greedy/sample run inside the engine; with
    more than one hypothesis (beam, sample_rank) the engine's scores rank them with the MMI anti-LM.

    `seed`: CTranslate2 samples with one generator per worker thread, seeded when the thread first samples
    (OpenNMT/CTranslate2#1757), so an engine's own draws follow `Engine(seed=...)`. A seed here makes one call
    repeatable: each of its conversations is sampled by a fresh engine replica whose generator starts from
    it (tens of milliseconds more per conversation), so the same seed gives the same reply whatever the batch.
    """

    strategy: str = "sample_rank"
    beam_size: int = 5  # beams, or the replies sample_rank draws
    max_len: int = 40  # reply pieces, EOS not counted
    min_len: int = 3
    length_penalty: float = 1.0  # GNMT's α in the ranking ((5 + n) / 6) ** α; CTranslate2's own in beam search
    no_repeat_ngram: int = 3  # in pieces
    repetition_penalty: float = 1.0  # CTranslate2's: logits of pieces already in the reply divided by it (1 = off)
    temperature: float = 0.9
    top_k: int = 40  # 0 = the whole vocabulary
    top_p: float = 0.9
    anti_lm: float = 0.3  # λ: rank by log p(T | S) - λ · log p(T_<γ | neutral source)
    anti_lm_steps: int = 3  # γ: reply pieces the anti-LM term covers
    content_repeat_penalty: float = 1.0  # ranking: subtracted from the score per content word said again
    copy_hypotheses: int = 1  # ranking: hypotheses opening with each server word of the conversation (0 = off)
    seed: int | None = None  # sampling only: see above

    def __post_init__(self) -> None:
        problems = []
        if self.strategy not in STRATEGIES:
            problems.append(f"strategy must be one of {', '.join(STRATEGIES)}")
        if not 1 <= self.beam_size <= 32:
            problems.append("beam_size must be between 1 and 32")
        if not 1 <= self.max_len <= MAX_PIECES:
            problems.append(f"max_len must be between 1 and {MAX_PIECES}")
        if not 1 <= self.min_len <= self.max_len:
            problems.append("min_len must be between 1 and max_len")
        if not 0.0 <= self.length_penalty <= 3.0:
            problems.append("length_penalty must be between 0 and 3")
        if not 0 <= self.no_repeat_ngram <= 10:
            problems.append("no_repeat_ngram must be between 0 (off) and 10")
        if not 1.0 <= self.repetition_penalty <= 3.0:
            problems.append("repetition_penalty must be between 1 (off) and 3")
        if not 0.01 <= self.temperature <= 5.0:
            problems.append("temperature must be between 0.01 and 5")
        if not 0 <= self.top_k <= 100_000:
            problems.append("top_k must be 0 (off) or positive")
        if not 0.0 < self.top_p <= 1.0:
            problems.append("top_p must be in (0, 1]")
        if not 0.0 <= self.anti_lm <= 1.0:
            problems.append("anti_lm must be between 0 and 1")
        if not 1 <= self.anti_lm_steps <= MAX_PIECES:
            problems.append(f"anti_lm_steps must be between 1 and {MAX_PIECES}")
        if not 0.0 <= self.content_repeat_penalty <= 10.0:
            problems.append("content_repeat_penalty must be between 0 (off) and 10")
        if not 0 <= self.copy_hypotheses <= 32:
            problems.append("copy_hypotheses must be between 0 (off) and 32")
        if self.seed is not None and not 0 <= self.seed < 2**32:
            problems.append("seed must be between 0 and 2**32 - 1")
        if problems:
            raise ValueError("invalid engine options: " + "; ".join(problems))

    @property
    def hypotheses(self) -> int:
        """Replies the engine returns per message: beam and sample_rank rank several."""
        return self.beam_size if self.strategy in ("beam", "sample_rank") else 1

    @property
    def cost(self) -> int:
        """The work of one reply in hypothesis-steps (hypotheses × max_len, in pieces): what batches count, as
        `DecodeOptions.cost` in words."""
        return self.hypotheses * self.max_len

    @classmethod
    def from_decode_options(cls, options: DecodeOptions) -> EngineOptions:
        """The bot's word-based request as piece-based engine options (same names, same meaning)."""
        values = asdict(options)
        values["max_len"] = min(MAX_PIECES, math.ceil(options.max_len * PIECES_PER_WORD))
        values["min_len"] = min(values["max_len"], options.min_len)  # a word is at least one piece
        if options.seed is not None:  # the API takes 0 to 2**63 - 1; CTranslate2 seeds with 32 bits
            values["seed"] = options.seed % 2**32
        known = {f.name for f in fields(cls)}
        return cls(**{k: v for k, v in values.items() if k in known})

    def to_dict(self) -> dict:
        return asdict(self)
