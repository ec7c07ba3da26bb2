"""bot/storage/text.py: cleaning and the learnability rules, no database."""

import pytest

from bot.storage.text import (
    DEFAULT_COMMAND_PREFIXES,
    MAX_STORED_CHARS,
    USER_PLACEHOLDER,
    SkipReason,
    clean_text,
    is_command,
    prepare_text,
    skip_reason,
)


def reason(text, *, bot=False, own=False):
    return skip_reason(prepare_text(text), author_is_bot=bot, is_own=own, command_prefixes=DEFAULT_COMMAND_PREFIXES)


def test_clean_text_removes_nul_and_controls_but_keeps_lines():
    assert clean_text("a\x00b\x07c\r\nd\te") == "abc\nd\te"


def test_clean_text_replaces_lone_surrogates_and_joins_split_pairs():
    assert clean_text("x\ud800y") == "x\ufffdy"
    assert clean_text("\ud83d\ude00") == "\U0001f600"  # a pair that arrived as two code points
    clean_text("x\udfffy").encode("utf-8")  # encodable: would raise if a surrogate survived


def test_clean_text_normalises_to_nfc_and_strips():
    assert clean_text("  cafe\u0301  ") == "caf\u00e9"


def test_clean_text_caps_length():
    assert len(clean_text("a" * (MAX_STORED_CHARS + 50))) == MAX_STORED_CHARS


def test_user_mentions_become_the_placeholder_and_nothing_else_does():
    assert prepare_text("hi <@123456789012345678> and <@!42>") == f"hi {USER_PLACEHOLDER} and {USER_PLACEHOLDER}"
    assert prepare_text("see <#55> and <@&66>") == "see <#55> and <@&66>"


@pytest.mark.parametrize(
    "text, expected",
    [
        ("", SkipReason.EMPTY),
        ("   ", SkipReason.EMPTY),
        ("!play despacito", SkipReason.COMMAND),
        ("/shrug", SkipReason.COMMAND),
        ("https://example.com/x", SkipReason.NO_WORDS),
        ("<https://example.com> www.example.org", SkipReason.NO_WORDS),
        ("<@123> <@&4> <#5> @everyone", SkipReason.NO_WORDS),
        ("<@123> https://example.com", SkipReason.NO_WORDS),
        ("hello there", None),
        ("!!!", None),
        ("... ok", None),
        ("?", None),
        ("look https://example.com", None),
        ("😂😂", None),
        ("שלום, מה שלומך?", None),
    ],
)
def test_skip_reason(text, expected):
    assert reason(text) == expected


def test_other_bots_are_skipped_but_banter_itself_is_not():
    assert reason("hello", bot=True) == SkipReason.BOT
    assert reason("hello", bot=True, own=True) is None


def test_banter_s_own_reply_is_never_a_command():
    assert reason("!pl have i and you do", own=True) is None
    assert reason("!pl have i and you do") == SkipReason.COMMAND


def test_is_command_needs_a_letter_after_the_prefix():
    assert is_command(">>play", DEFAULT_COMMAND_PREFIXES)
    assert not is_command(">> quoted", DEFAULT_COMMAND_PREFIXES)
    assert not is_command("$5 is cheap", DEFAULT_COMMAND_PREFIXES)
