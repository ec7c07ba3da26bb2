"""Decoding settings shared by the CLI, the evaluator, the worker and the bot's requests."""

from __future__ import annotations

from dataclasses import asdict, dataclass, fields

STRATEGIES = ("beam", "greedy", "sample", "sample_rank")


@dataclass(frozen=True)
class DecodeOptions:
    # The defaults are the bot's: sample-and-rank with a light antiLM. On the held-out split, plain beam
    # search answered half of all messages with one of ten replies ("i'm not sure", "haha");
    # these settings keep replies likely under the model yet varied (see the closing figures).
    strategy: str = "sample_rank"
    beam_size: int = 5  # beams, or the candidates sample_rank draws
    max_len: int = 20
    min_len: int = 2  # never an empty reply, and rarely a bare "hi"
    length_penalty: float = 1.0  # GNMT's alpha: 0 favours short replies, 1 divides by length
    no_repeat_ngram: int = 3  # no n-gram appears twice in a reply ("i i i i", "dancing, dancing")
    temperature: float = 0.9
    top_k: int = 40
    top_p: float = 0.9
    anti_lm: float = 0.3  # MMI-antiLM weight λ: higher steers away from generic replies (0 = off)
    anti_lm_steps: int = 3  # reply tokens the antiLM penalty applies to (γ)
    seed: int | None = None

    def __post_init__(self) -> None:
        problems = []
        if self.strategy not in STRATEGIES:
            problems.append(f"strategy must be one of {', '.join(STRATEGIES)}")
        if not 1 <= self.beam_size <= 32:
            problems.append("beam_size must be between 1 and 32")
        if not 1 <= self.max_len <= 100:
            problems.append("max_len must be between 1 and 100")
        if not 1 <= self.min_len <= self.max_len:
            problems.append("min_len must be between 1 and max_len")
        if not 0.0 <= self.length_penalty <= 3.0:
            problems.append("length_penalty must be between 0 and 3")
        if not 0 <= self.no_repeat_ngram <= 10 or self.no_repeat_ngram == 1:
            problems.append("no_repeat_ngram must be 0 (off) or between 2 and 10")
        if not 0.01 <= self.temperature <= 5.0:
            problems.append("temperature must be between 0.01 and 5")
        if not 0 <= self.top_k <= 100_000:
            problems.append("top_k must be 0 (off) or positive")
        if not 0.0 < self.top_p <= 1.0:
            problems.append("top_p must be in (0, 1]")
        if not 0.0 <= self.anti_lm <= 1.0:
            problems.append("anti_lm must be between 0 and 1")
        if not 1 <= self.anti_lm_steps <= 100:
            problems.append("anti_lm_steps must be between 1 and 100")
        if problems:
            raise ValueError("invalid decoding options: " + "; ".join(problems))

    @classmethod
    def from_dict(cls, data: dict | None) -> DecodeOptions:
        """Validated options from JSON-like input; unknown keys and wrong types are errors."""
        if not data:
            return cls()
        if not isinstance(data, dict):
            raise ValueError("decoding options must be an object")
        known = {f.name: f for f in fields(cls)}
        unknown = sorted(set(data) - set(known))
        if unknown:
            raise ValueError(f"unknown decoding options: {', '.join(unknown)}")
        clean = {}
        for key, value in data.items():
            if key == "strategy":
                if not isinstance(value, str):
                    raise ValueError("strategy must be a string")
            elif key == "seed":
                if value is not None and (not isinstance(value, int) or isinstance(value, bool)):
                    raise ValueError("seed must be an integer")
            elif key in ("beam_size", "max_len", "min_len", "no_repeat_ngram", "top_k", "anti_lm_steps"):
                if not isinstance(value, int) or isinstance(value, bool):
                    raise ValueError(f"{key} must be an integer")
            elif not isinstance(value, (int, float)) or isinstance(value, bool):
                raise ValueError(f"{key} must be a number")
            clean[key] = value
        return cls(**clean)

    def to_dict(self) -> dict:
        return asdict(self)
