"""The model's custom emoji become the server's own, or go: nothing Discord would show as a literal frame."""

from __future__ import annotations

from hypothesis import given
from hypothesis import strategies as st

from seq2seq.protocol.emoji import restore_custom_emoji

SERVER = {"kekwait": "<:KEKWait:1034567890123456790>", "catjam": "<a:catJAM:987654321098765432>"}


def test_known_emoji_are_restored_whatever_their_case_and_unknown_ones_dropped():
    assert restore_custom_emoji("<:kekwait:id> is funny", SERVER) == "<:KEKWait:1034567890123456790> is funny"
    assert restore_custom_emoji("lol <a:CatJam:id><:kekwait:id>", SERVER) == (
        "lol <a:catJAM:987654321098765432> <:KEKWait:1034567890123456790>"
    )
    assert restore_custom_emoji("hey <:pehands:id> ok", SERVER) == "hey ok"  # not on this server
    assert restore_custom_emoji("<:kekwait:id>", {}) == ""


def test_frames_the_model_left_unfinished_are_dropped_and_ordinary_text_kept():
    assert restore_custom_emoji("so drippok <:", SERVER) == "so drippok"  # cut at the length limit
    assert restore_custom_emoji("x <a:kekw", SERVER) == "x"
    assert restore_custom_emoji("cut :id> here", SERVER) == "cut here"
    assert restore_custom_emoji("<3 and :) at 10:30 <:a:id>", SERVER) == "<3 and :) at 10:30"


@given(st.lists(st.sampled_from(["<:", "<a:", ":id>", "kekwait", "catjam", "pehands", ":", "<", ">", " ", "x"])))
def test_no_model_frame_survives_and_every_emoji_sent_is_the_servers(parts):
    out = restore_custom_emoji("".join(parts), SERVER)
    for emoji in SERVER.values():
        out = out.replace(emoji, " ")
    assert "<:" not in out and "<a:" not in out and ":id>" not in out
