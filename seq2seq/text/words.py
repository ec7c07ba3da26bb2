"""Turns chat text into model tokens and model tokens back into natural text."""

from __future__ import annotations

import re
import unicodedata
from functools import lru_cache

from nltk.tokenize import TweetTokenizer

URL_TOKEN = "<url>"
USER_TOKEN = "<user>"
MAX_INPUT_CHARS = 2000  # longer messages are cut: the model only reads the last turns anyway

URL_RE = re.compile(r"(?:https?://|www\.)\S+", re.IGNORECASE)
# Discord user/role/channel mentions and plain @handles all become one placeholder.
MENTION_RE = re.compile(r"<@[!&#]?\d+>|<#\d+>|(?<!\w)@\w+")
_CONTROL_RE = re.compile(r"[\x00-\x08\x0b-\x1f\x7f]")

_tokenizer = TweetTokenizer(preserve_case=False, reduce_len=True, strip_handles=False)

_NO_SPACE_BEFORE = {".", ",", "!", "?", ":", ";", ")", "]", "}", "%", "...", "..", "…"}
_NO_SPACE_AFTER = {"(", "[", "{", "$", "#"}
_CONTRACTION_TAILS = {"'s", "'m", "'re", "'ve", "'d", "'ll", "n't", "'t"}


def clean(text: str) -> str:
    """Normalise raw user text: drop control characters, fix unicode form, cap length."""
    text = text.replace("\x00", "")
    text = _CONTROL_RE.sub(" ", text)
    # Lone surrogates cannot be encoded anywhere downstream; replace them.
    text = text.encode("utf-8", "replace").decode("utf-8")
    text = unicodedata.normalize("NFKC", text)
    if len(text) > MAX_INPUT_CHARS:
        text = text[-MAX_INPUT_CHARS:]  # the end of a long message is what a reply answers
    return text.strip()


def tokenize(text: str) -> list[str]:
    """Lower-cased tokens with URLs and mentions replaced by placeholder tokens."""
    return list(_tokenize_cached(text))


@lru_cache(maxsize=400_000)
def _tokenize_cached(text: str) -> tuple[str, ...]:
    # NLTK's tokenizer is slow (regexes with timeouts) and a corpus turn is both a reply and
    # the next query and context: caching makes a corpus pass about three times faster.
    text = clean(text)
    text = URL_RE.sub(f" {URL_TOKEN} ", text)
    text = MENTION_RE.sub(f" {USER_TOKEN} ", text)
    tokens: list[str] = []
    for token in _tokenizer.tokenize(text):
        if token in ("<url>", "<user>"):
            tokens.append(token)
            continue
        tokens.extend(_split_contraction(token))
    return tuple(tokens)


def _split_contraction(token: str) -> list[str]:
    # TweetTokenizer keeps "i'm" whole; splitting the tail shares counts across words
    # ("i'm", "you're") and keeps the vocabulary small.
    for tail in ("n't", "'s", "'m", "'re", "'ve", "'d", "'ll"):
        if token.endswith(tail) and len(token) > len(tail):
            return [token[: -len(tail)], tail]
    return [token]


def detokenize(tokens: list[str]) -> str:
    """Join tokens the way a person would write them: "i'm fine, thanks!"."""
    out = ""
    previous = ""
    for token in tokens:
        if not out:
            out = token
        elif token in _NO_SPACE_BEFORE or token in _CONTRACTION_TAILS or previous in _NO_SPACE_AFTER:
            out += token
        else:
            out += " " + token
        previous = token
    return out
