"""Pure text rules: cleaning what Discord hands us, and which messages are worth learning."""

from __future__ import annotations

import enum
import re
import unicodedata
from collections.abc import Sequence

# What a user mention becomes, in stored text and so in training data: ids never reach the model.
USER_PLACEHOLDER = "@user"
# A bot command: one of these, then a letter ("!play", "/shrug"), configurable in Storage.open.
DEFAULT_COMMAND_PREFIXES = ("!", "/", "$", ".", "?", ";", "%", "&", "~", ">>")
# Discord allows 4,000 characters (Nitro): anything longer is cut there, which is also the longest
# turn the model worker accepts in a fine-tune upload (seq2seq.protocol.MAX_TURN_CHARS).
MAX_STORED_CHARS = 4000

_USER_MENTION = re.compile(r"<@!?\d+>")
# Everything that carries no words of its own: mentions of any kind, links, whitespace.
_NOT_WORDS = re.compile(
    r"<@[!&]?\d+>|<#\d+>|@everyone|@here|" + re.escape(USER_PLACEHOLDER) + r"|<?https?://\S+>?|www\.\S+|\s+"
)
# C0 controls other than tab and newline; NUL above all (PostgreSQL refuses it in text).
_CONTROLS = re.compile(r"[\x00-\x08\x0b-\x1f\x7f]")


class SkipReason(enum.StrEnum):
    BOT = "bot"  # another bot wrote it
    EMPTY = "empty"  # no text at all (attachments only, or nothing)
    COMMAND = "command"  # a bot command
    NO_WORDS = "no_words"  # only links and mentions


def clean_text(raw: str) -> str:
    """Text that both SQLite and PostgreSQL accept and that compares equal when it reads equal."""
    # Lone surrogates cannot be encoded as UTF-8; a surrogate pair arriving as two code points
    # is joined. Round-tripping through UTF-16 does both.
    text = raw.encode("utf-16", "surrogatepass").decode("utf-16", "replace")
    text = text.replace("\r\n", "\n").replace("\r", "\n")
    text = _CONTROLS.sub("", text)
    text = unicodedata.normalize("NFC", text).strip()
    return text[:MAX_STORED_CHARS]


def replace_user_mentions(text: str, placeholder: str = USER_PLACEHOLDER) -> str:
    return _USER_MENTION.sub(placeholder, text)


def prepare_text(raw: str) -> str:
    """What is stored for a message: cleaned, user mentions replaced."""
    return replace_user_mentions(clean_text(raw))


def is_command(text: str, prefixes: Sequence[str]) -> bool:
    for prefix in prefixes:
        if text.startswith(prefix):
            rest = text[len(prefix) :]
            # "!play song" is a command; "!!!" or "... ok" or "?" are not.
            return bool(rest) and rest[0].isalpha()
    return False


def skip_reason(text: str, *, author_is_bot: bool, is_own: bool, command_prefixes: Sequence[str]) -> SkipReason | None:
    """Why a (prepared) message must not be learned, or None if it may be."""
    if author_is_bot and not is_own:
        return SkipReason.BOT
    if not text:
        return SkipReason.EMPTY
    if not is_own and is_command(text, command_prefixes):
        # Banter's own words are never a command, even when a sampled reply starts "!pl...": the line
        # that answers them is still a reply to learn.
        return SkipReason.COMMAND
    if not _NOT_WORDS.sub("", text):
        return SkipReason.NO_WORDS
    return None
