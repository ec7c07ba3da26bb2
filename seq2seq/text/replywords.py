"""A reply's words as every figure counts them (v1's tokenizer, frozen) and its content words: the engine's
ranking ("pizza is pizza" loses) and the benchmarks count with the same rules.

`words` is a frozen copy of v1's tokenizer (`seq2seq.text.tokenize` when v1 shipped), so word perplexities and
reply lengths mean the same after v1 is replaced. Change it and the figures stop comparing across versions.
"""

from __future__ import annotations

import re
import unicodedata
from functools import lru_cache

from nltk.tokenize import TweetTokenizer

_MAX_CHARS = 2000
_URL_RE = re.compile(r"(?:https?://|www\.)\S+", re.IGNORECASE)
_MENTION_RE = re.compile(r"<@[!&#]?\d+>|<#\d+>|(?<!\w)@\w+")
_CONTROL_RE = re.compile(r"[\x00-\x08\x0b-\x1f\x7f]")
_TWEET = TweetTokenizer(preserve_case=False, reduce_len=True, strip_handles=False)
_TAILS = ("n't", "'s", "'m", "'re", "'ve", "'d", "'ll")


def words(text: str) -> list[str]:
    """The words of `text` as v1 counted them: lower case, URLs and mentions as <url>/<user>, "i'm" → i 'm."""
    return list(_words(text))


@lru_cache(maxsize=200_000)
def _words(text: str) -> tuple[str, ...]:
    text = _CONTROL_RE.sub(" ", text.replace("\x00", ""))
    text = unicodedata.normalize("NFKC", text.encode("utf-8", "replace").decode("utf-8"))
    text = text[-_MAX_CHARS:].strip()
    text = _MENTION_RE.sub(" <user> ", _URL_RE.sub(" <url> ", text))
    out: list[str] = []
    for token in _TWEET.tokenize(text):
        tail = next((t for t in _TAILS if token.endswith(t) and len(token) > len(t)), None)
        out += [token[: -len(tail)], tail] if tail and token not in ("<url>", "<user>") else [token]
    return tuple(out)


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
