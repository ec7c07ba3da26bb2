"""Decoding settings shared by the CLI, the evaluator, the worker and the bot's requests."""

from __future__ import annotations

from dataclasses import asdict, dataclass, fields

from seq2seq.protocol import clip_names

STRATEGIES = ("beam", "greedy", "sample", "sample_rank")
MAX_SEED = 2**63 - 1  # NumPy takes any non-negative integer; a signed 64-bit one survives every JSON client
_INTS = ("beam_size", "max_len", "min_len", "no_repeat_ngram", "top_k", "anti_lm_steps", "copy_hypotheses")
_NUMBERS = ("length_penalty", "repetition_penalty", "temperature", "top_p", "anti_lm", "content_repeat_penalty")


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
    # CTranslate2's (CTRL's) penalty on pieces already said: their logits are divided by it (1 = off). v2 only.
    repetition_penalty: float = 1.0
    temperature: float = 0.9
    top_k: int = 40
    top_p: float = 0.9
    anti_lm: float = 0.3  # MMI-antiLM weight λ: higher steers away from generic replies (0 = off)
    anti_lm_steps: int = 3  # reply tokens the antiLM penalty applies to (γ)
    # Ranking several replies (sample_rank; beam with the anti-LM), each content word said again costs this much
    # of the score: "pizza is pizza" loses to a reply that says something else (0 = off). v2 only.
    content_repeat_penalty: float = 1.0
    # Ranking, with a fine-tuned model: for each of a conversation's server words (nicknames, games, emoji it
    # learned; `engine.copying`), this many more hypotheses that open with it, at most the candidates (0 = off). v2.
    copy_hypotheses: int = 1
    seed: int | None = None

    def __post_init__(self) -> None:
        """Every option checked here, however the object is made (a request, config.toml, the CLI)."""
        problems = _type_problems(self) or _range_problems(self)
        if problems:
            raise ValueError("invalid decoding options: " + "; ".join(problems))
        for name in _NUMBERS:  # 1 and 1.0 are one setting: store floats (in range now, so float() cannot overflow)
            object.__setattr__(self, name, float(getattr(self, name)))

    @classmethod
    def from_dict(cls, data: dict | None) -> DecodeOptions:
        """Validated options from JSON-like input; unknown keys and wrong types are errors."""
        if not data:
            return cls()
        if not isinstance(data, dict):
            raise ValueError("decoding options must be an object")
        unknown = sorted(set(data) - {f.name for f in fields(cls)})
        if unknown:
            raise ValueError(f"unknown decoding options: {clip_names(unknown)}")
        return cls(**data)

    @property
    def width(self) -> int:
        """Hypotheses decoded per reply: the beams or sample_rank's candidates; 1 for greedy and plain sampling."""
        return self.beam_size if self.strategy in ("beam", "sample_rank") else 1

    @property
    def cost(self) -> int:
        """The work of one reply in hypothesis-steps (width × max_len): what request budgets and batches count."""
        return self.width * self.max_len

    def to_dict(self) -> dict:
        return asdict(self)


def _is_int(value) -> bool:
    return isinstance(value, int) and not isinstance(value, bool)


def _type_problems(o: DecodeOptions) -> list[str]:
    problems = []
    if not isinstance(o.strategy, str):
        problems.append("strategy must be a string")
    problems += [f"{name} must be an integer" for name in _INTS if not _is_int(getattr(o, name))]
    problems += [
        f"{name} must be a number"
        for name in _NUMBERS
        if not (_is_int(getattr(o, name)) or isinstance(getattr(o, name), float))
    ]
    if o.seed is not None and not _is_int(o.seed):
        problems.append("seed must be an integer or null")
    return problems


def _range_problems(o: DecodeOptions) -> list[str]:
    checks = [
        (o.strategy in STRATEGIES, f"strategy must be one of {', '.join(STRATEGIES)}"),
        (1 <= o.beam_size <= 32, "beam_size must be between 1 and 32"),
        (1 <= o.max_len <= 100, "max_len must be between 1 and 100"),
        (1 <= o.min_len <= o.max_len, "min_len must be between 1 and max_len"),
        (0.0 <= o.length_penalty <= 3.0, "length_penalty must be between 0 and 3"),
        (o.no_repeat_ngram == 0 or 2 <= o.no_repeat_ngram <= 10, "no_repeat_ngram must be 0 (off) or between 2 and 10"),
        (1.0 <= o.repetition_penalty <= 3.0, "repetition_penalty must be between 1 (off) and 3"),
        (0.01 <= o.temperature <= 5.0, "temperature must be between 0.01 and 5"),
        (0 <= o.top_k <= 100_000, "top_k must be 0 (off) or between 1 and 100000"),
        (0.0 < o.top_p <= 1.0, "top_p must be in (0, 1]"),
        (0.0 <= o.anti_lm <= 1.0, "anti_lm must be between 0 and 1"),
        (1 <= o.anti_lm_steps <= 100, "anti_lm_steps must be between 1 and 100"),
        (0.0 <= o.content_repeat_penalty <= 10.0, "content_repeat_penalty must be between 0 (off) and 10"),
        (0 <= o.copy_hypotheses <= 32, "copy_hypotheses must be between 0 (off) and 32"),
        (o.seed is None or 0 <= o.seed <= MAX_SEED, f"seed must be between 0 and {MAX_SEED}, or null"),
    ]
    # NaN fails every comparison above, so it is refused with the option's range.
    return [message for ok, message in checks if not ok]
