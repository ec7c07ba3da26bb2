"""Discord custom emoji in replies: the model writes `<:name:id>`; the bot sends the server's own emoji or nothing.

The tokenizer keeps an emoji's name (learnable) and drops its snowflake id (a lookup key, different on every
server): `<:PepeHands:1234…>` is read as `<:pepehands:id>`. A reply says it back in that form, and the bot looks
the name up among the emoji where it speaks.
"""

from __future__ import annotations

import re
from collections.abc import Mapping

# As Discord writes one in a message: <:name:snowflake>, or <a:name:snowflake> when animated.
CUSTOM_EMOJI_RE = re.compile(r"<(a?):(\w{2,32}):\d{5,25}>")
# As the model reads and writes one.
MODEL_EMOJI_RE = re.compile(r"<(a?):(\w{2,32}):id>")
# A whole emoji as the model writes it, or what is left of a frame it did not finish (a reply cut at its length
# limit, "<:" alone, ":id>" alone): alternatives tried in this order at each place.
_MODEL_FORMS_RE = re.compile(r"<(a?):(\w{2,32}):id>|<a?:[\w:]*>?|:id>")


def restore_custom_emoji(text: str, emojis: Mapping[str, str]) -> str:
    """`<:name:id>` → the server's own emoji (`emojis` maps a lower-case name to what to send, `<:Name:123>`).

    An emoji the server does not have is dropped, and so is a broken frame: Discord would show either as literal
    text ("<:pehands:id>").
    """

    def restore(match: re.Match) -> str:
        name = match.group(2)
        return f" {emojis.get(name.lower(), '')} " if name else " "

    return " ".join(_MODEL_FORMS_RE.sub(restore, text).split())
