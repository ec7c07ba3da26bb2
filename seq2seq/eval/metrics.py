"""Reply-quality measures with known answers: BLEU (nltk), unigram F1, distinct-n, generic rate, repeated words."""

from __future__ import annotations

import unicodedata
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


# NLTK's English stop words (its `stopwords` corpus is a download, so the list is copied here, frozen, so the
# figure means the same in every run), plus v1's contraction tails and placeholders.
STOPWORDS = frozenset(
    """
    a about above after again against ain all am an and any are aren aren't as at be because been before being
    below between both but by can couldn couldn't d did didn didn't do does doesn doesn't doing don don't down
    during each few for from further had hadn hadn't has hasn hasn't have haven haven't having he her here hers
    herself him himself his how i if in into is isn isn't it it's its itself just ll m ma me mightn mightn't more
    most mustn mustn't my myself needn needn't no nor not now o of off on once only or other our ours ourselves
    out over own re s same shan shan't she she's should should've shouldn shouldn't so some such t than that
    that'll the their theirs them themselves then there these they this those through to too under until up ve
    very was wasn wasn't we were weren weren't what when where which while who whom why will with won won't
    wouldn wouldn't y you you'd you'll you're you've your yours yourself yourselves
    n't <url> <user>
    """.split()
)


def is_word(token: str) -> bool:
    """A token that is not punctuation alone: letters, digits, emoji and other symbols count."""
    return any(not unicodedata.category(c).startswith(("P", "Z", "C")) for c in token)


def content_words(tokens: list[str]) -> list[str]:
    """Words that carry meaning: not punctuation, not a stop word ("'s" and "s" alike)."""
    return [t for t in tokens if is_word(t) and t not in STOPWORDS and t.lstrip("'") not in STOPWORDS]


def content_repeats(tokens: list[str]) -> int:
    """Content words said again: 1 for "pizza is pizza", 2 for "music music music"."""
    words = content_words(tokens)
    return len(words) - len(set(words))


def repeats_content_word(tokens: list[str]) -> bool:
    """A content word said twice: "pizza is pizza", "the byu job at byu"."""
    return content_repeats(tokens) > 0


def percentile(values: list[float], q: float) -> float:
    if not values:
        return 0.0
    ordered = sorted(values)
    index = min(len(ordered) - 1, max(0, round(q / 100 * (len(ordered) - 1))))
    return ordered[index]
