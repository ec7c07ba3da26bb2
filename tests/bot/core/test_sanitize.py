"""Replies never ping, never carry blocklisted words, and fit in a Discord message."""

from __future__ import annotations

from bot.core.sanitize import DISCORD_MAX_CHARS, clean_reply
from seq2seq.protocol.blocklist import Blocklist


def test_mass_user_and_role_mentions_are_neutralised():
    text = clean_reply("@everyone and @HERE meet <@123> <@!456> in <@&789> at <#42>")
    assert "@everyone" not in text and "@HERE" not in text and "<@" not in text
    assert text == "@\u200beveryone and @\u200bHERE meet @user @user in @role at <#42>"


def test_blocklist_matches_whole_words_only_and_withholds_the_reply():
    blocked = Blocklist(["darn", "two words"])
    assert clean_reply("oh DARN it", blocked) is None
    assert clean_reply("say two words", blocked) is None
    assert clean_reply("darned socks", blocked) == "darned socks"
    assert clean_reply("darn", Blocklist(["", "  "])) == "darn"  # empty entries block nothing


def test_empty_replies_are_dropped_and_long_ones_cut_to_discord_size():
    assert clean_reply("   \x00 ") is None
    long = clean_reply("word " * 1000)
    assert len(long) == DISCORD_MAX_CHARS and long.endswith("…")


def test_custom_emoji_become_the_channels_own_and_a_reply_of_unknown_ones_alone_is_withheld():
    emojis = {"kekwait": "<:KEKWait:1034567890123456790>"}
    assert (
        clean_reply("<:kekwait:id> is funny <:pehands:id>", None, emojis) == "<:KEKWait:1034567890123456790> is funny"
    )
    assert clean_reply("<:pehands:id> <:", None, emojis) is None
