"""The quality gate: a candidate may not forget the base set and must learn the new pairs."""

from __future__ import annotations

from dataclasses import asdict, dataclass

DEFAULT_MARGIN = 0.05


@dataclass(frozen=True)
class GateResult:
    passed: bool
    reasons: list[str]
    margin: float
    base_before: float  # word perplexity of the active model on the fixed base held-out set
    base_after: float  # ... of the candidate
    new_before: float  # word perplexity of the active model on the held-out new pairs
    new_after: float  # ... of the candidate
    base_pairs: int
    new_pairs: int
    base_set: str  # where the base set came from

    def to_json(self) -> dict:
        return asdict(self)


def decide(
    base_before: float,
    base_after: float,
    new_before: float,
    new_after: float,
    *,
    margin: float = DEFAULT_MARGIN,
    base_pairs: int = 0,
    new_pairs: int = 0,
    base_set: str = "",
) -> GateResult:
    """Pass iff base perplexity worsens by at most `margin` (relative) and new-pair perplexity improves."""
    reasons = []
    limit = base_before * (1.0 + margin)
    if not base_after <= limit:  # `not <=` also catches NaN
        reasons.append(
            f"base held-out word perplexity {base_after:.3f} is worse than {base_before:.3f} "
            f"by more than {margin:.0%} (limit {limit:.3f})"
        )
    if not new_after < new_before:
        reasons.append(f"held-out new-pair word perplexity {new_after:.3f} did not improve on {new_before:.3f}")
    if base_pairs == 0 or new_pairs == 0:
        reasons.append("an empty evaluation set cannot pass the gate")
    return GateResult(
        not reasons, reasons, margin, base_before, base_after, new_before, new_after, base_pairs, new_pairs, base_set
    )


def perplexities(engine, base_pairs: list, new_pairs: list) -> tuple[float, float]:
    """(base set, new pairs) word perplexity of one model's engine (`seq2seq.engine.decode.Engine`, as it serves):
    whole replies over their words, so a full retrain with new pieces compares with the active model, and the
    margin means what learncheck's targets mean (per piece, +4.6% was +5.6% per word). Infinite for no pairs."""
    from seq2seq.engine.evaluate import word_perplexity

    return word_perplexity(engine, base_pairs), word_perplexity(engine, new_pairs)


def evaluate(
    before: tuple[float, float], candidate, base_pairs: list, new_pairs: list, margin: float, base_set: str
) -> GateResult:
    """The candidate's engine judged against the active model's `perplexities` (computed once per job)."""
    base_after, new_after = perplexities(candidate, base_pairs, new_pairs)
    return decide(
        before[0],
        base_after,
        before[1],
        new_after,
        margin=margin,
        base_pairs=len(base_pairs),
        new_pairs=len(new_pairs),
        base_set=base_set,
    )


def only_forgot(gate: GateResult) -> bool:
    """It learned the new pairs and had both sets, but lost more than the margin on the base set."""
    return not gate.passed and gate.new_after < gate.new_before and len(gate.reasons) == 1
