"""The one blocklist matcher: whole words and phrases in any case, the default list, and the words a decoder bans."""

import pytest

from seq2seq.protocol.blocklist import MILD, Blocklist, default_words


@pytest.mark.parametrize(
    "text, blocked",
    [
        ("oh DARN it", True),
        ("darn", True),
        ("darn!", True),
        ("(darn)", True),
        ("darned socks", False),  # a whole word, not a prefix
        ("undarn", False),
        ("say two words", True),
        ("say TWO\t\nwords please", True),  # any white space between a phrase's words
        ("two wordsmiths", False),
        ("twowords", False),
        ("kiss my a$$", True),  # entries with punctuation match as written
        ("a$$et", False),
        ("", False),
    ],
)
def test_entries_match_as_whole_words_and_phrases_in_any_case(text, blocked):
    assert Blocklist(["Darn", "two  words", "a$$"]).matches(text) is blocked


def test_prefixes_of_one_another_each_match_alone():
    # A trie shares "ass" between the entries: each must still match whole, and only whole.
    blocklist = Blocklist(["ass", "assault", "ass hat"])
    assert blocklist.matches("an ass") and blocklist.matches("assault!") and blocklist.matches("ass  hat")
    assert not blocklist.matches("assa") and not blocklist.matches("assaults") and not blocklist.matches("classy")
    assert Blocklist(["ass hat"]).matches("an ASS HAT") and not Blocklist(["ass hat"]).matches("ass hats")


def test_empty_entries_block_nothing_and_an_empty_list_is_falsy():
    assert not Blocklist() and not Blocklist(["", "  "]).matches("anything at all")
    assert Blocklist(["x"]) and Blocklist(["X", " x "]) == Blocklist(["x"])


def test_the_decoder_bans_single_words_only():
    assert Blocklist(["darn", "two words", "a$$"]).words == {"darn", "a$$"}


def test_default_blocklist_blocks_profanity_but_not_everyday_words():
    blocklist = Blocklist.default(["customword"])
    assert blocklist.matches("what the FUCK") and blocklist.matches("a customword here")
    assert not blocklist.matches("hell yeah, i'm killing time with a beer")
    assert not MILD & default_words() and "fuck" in default_words()
