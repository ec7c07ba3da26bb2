"""Reply-quality measures with known answers: BLEU (nltk), unigram F1, distinct-n, generic rate, repeated words."""

from __future__ import annotations

from collections import Counter

from nltk.translate.bleu_score import SmoothingFunction, corpus_bleu


def bleu(references: list[list[str]], hypotheses: list[list[str]]) -> tuple[float, float]:
    """Corpus BLEU-1 and BLEU-2 with smoothing (method 1), one reference per hypothesis."""
    if not hypotheses:
        return 0.0, 0.0
    refs = [[r] for r in references]
    smooth = SmoothingFunction().method1
    b1 = corpus_bleu(refs, hypotheses, weights=(1.0,), smoothing_function=smooth)
    b2 = corpus_bleu(refs, hypotheses, weights=(0.5, 0.5), smoothing_function=smooth)
    return float(b1), float(b2)


def unigram_f1(reference: list[str], hypothesis: list[str]) -> float:
    common = Counter(reference) & Counter(hypothesis)
    overlap = sum(common.values())
    if overlap == 0:
        return 0.0
    precision, recall = overlap / len(hypothesis), overlap / len(reference)
    return 2 * precision * recall / (precision + recall)


def distinct(hypotheses: list[list[str]], n: int) -> float:
    """Distinct n-grams over all n-grams in every reply."""
    grams = [tuple(h[i : i + n]) for h in hypotheses for i in range(len(h) - n + 1)]
    return len(set(grams)) / len(grams) if grams else 0.0


def generic_rate(replies: list[str], top: int = 10) -> float:
    """Share of replies that are one of the `top` most frequent replies."""
    if not replies:
        return 0.0
    counts = Counter(replies)
    common = {r for r, _ in counts.most_common(top)}
    return sum(1 for r in replies if r in common) / len(replies)


def percentile(values: list[float], q: float) -> float:
    if not values:
        return 0.0
    ordered = sorted(values)
    index = min(len(ordered) - 1, max(0, round(q / 100 * (len(ordered) - 1))))
    return ordered[index]
