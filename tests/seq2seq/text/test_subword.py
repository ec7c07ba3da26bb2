"""The v2 tokenizer: every input round-trips to its normalised form, nothing is ever UNK, Discord's own
tokens (custom emoji, mentions, links) become things a model can learn and the bot can send back."""

from __future__ import annotations

import random

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from seq2seq.protocol.emoji import restore_custom_emoji
from seq2seq.text.subword import COMMON_EMOJI, SubwordTokenizer, normalise
from seq2seq.text.vocab import BOS_ID, EOS_ID, PAD_ID, SEP_ID, SERVER_TAG_ID, SPECIALS, UNK_ID


def _hostile_10k() -> str:
    rng = random.Random(11)
    alphabet = "aé日😂\u200d\x00\x07\n\t ▁’<>:@#" + "".join(chr(c) for c in range(0x600, 0x620))
    return "".join(rng.choice(alphabet) for _ in range(10_000))


HOSTILE = [
    "",
    "   \n\t ",
    "lol 😂😂 ❤️ 👍🏽 👨‍👩‍👧 🇫🇷",  # emoji, a skin tone, a ZWJ family, a flag
    "gg <:PepeHands:123456789012345678> <a:catjam:987654321098765432>",
    "Привет, как дела? 你好吗 مرحبا कैसे हो Ωμέγα",
    "a\x00b\x07c\x1bd",
    "\ud800 lone surrogate",
    "<@123> <@!45> <@&456> <#789> @everyone https://example.com/x?y=1 www.foo.org",
    "typed <sep> <s> </s> <pad> <unk> <url> <:x:id> ▁ ’ “quoted”",
    "ＦＵＬＬ width ﬁ ligature ① İstanbul",
    "x" * 10_000,
    _hostile_10k(),
]


@pytest.mark.parametrize("text", HOSTILE, ids=range(len(HOSTILE)))
def test_hostile_text_round_trips_to_its_normal_form_without_unk(tokenizer, text):
    ids = tokenizer.encode(text)
    assert UNK_ID not in ids
    assert tokenizer.decode(ids) == normalise(text)
    assert normalise(normalise(text)) == normalise(text)


@settings(max_examples=400, deadline=None)
@given(st.text(alphabet=st.characters(), max_size=200))  # every code point, surrogates included
def test_round_trip_property(tokenizer, text):
    ids = tokenizer.encode(text)
    assert UNK_ID not in ids
    assert tokenizer.decode(ids) == normalise(text)
    assert normalise(tokenizer.decode(ids)) == tokenizer.decode(ids)


def test_the_special_ids_are_the_word_vocabularys(tokenizer):
    assert tokenizer.pieces[: len(SPECIALS)] == list(SPECIALS)
    assert (PAD_ID, UNK_ID, BOS_ID, EOS_ID, SEP_ID) == (0, 1, 2, 3, 4)


def test_emoji_survive_and_common_ones_are_single_pieces(tokenizer):
    for emoji in COMMON_EMOJI:
        assert tokenizer.encode_pieces(emoji) == ["▁", emoji] or tokenizer.encode_pieces(emoji) == ["▁" + emoji]
    rare = "🦩"  # not in the list: spelled in bytes, still exact
    assert tokenizer.decode(tokenizer.encode(f"a {rare} b")) == f"a {rare} b"


def test_custom_emoji_keep_their_name_as_pieces_and_the_bot_restores_them(tokenizer):
    text = "gg <:PepeHands:123456789012345678> and <a:catJAM:987654321098765432>"
    assert normalise(text) == "gg <:pepehands:id> and <a:catjam:id>"
    pieces = tokenizer.encode_pieces(text)
    assert "<:" in pieces and "<a:" in pieces and pieces.count(":id>") == 2
    server = {"pepehands": "<:PepeHands:123456789012345678>"}  # catjam is not on this server
    assert restore_custom_emoji(tokenizer.decode(tokenizer.encode(text)), server) == (
        "gg <:PepeHands:123456789012345678> and"
    )


def test_mentions_and_links_become_placeholders_and_typed_specials_stay_text(tokenizer):
    assert normalise("hey <@1234> look https://x.io/a") == "hey <user> look <url>"
    ids = tokenizer.encode("<sep> <s> </s>")
    assert not set(ids) & {PAD_ID, UNK_ID, BOS_ID, EOS_ID, SEP_ID}  # typed, they are only characters


def test_case_folding_follows_the_setting(tokenizer):
    assert normalise("Hello THERE", lowercase=True) == "hello there"
    assert normalise("Hello THERE", lowercase=False) == "Hello THERE"
    assert tokenizer.decode(tokenizer.encode("Hello")) == "hello"


def test_source_is_context_separator_message_cut_from_the_left(tokenizer):
    a, b, c = tokenizer.encode("first turn"), tokenizer.encode("second turn"), tokenizer.encode("the message")
    assert (
        tokenizer.encode_source(["first turn", "second turn", "the message"], 100, 2) == a + [SEP_ID] + b + [SEP_ID] + c
    )
    assert tokenizer.encode_source(["first turn", "second turn", "the message"], 100, 1) == b + [SEP_ID] + c
    assert tokenizer.encode_source(["", "the message"], 100, 2) == c
    assert tokenizer.encode_source(["first turn", "the message"], 3, 2) == (a + [SEP_ID] + c)[-3:]
    target = tokenizer.encode_target("a long reply " * 10, 5)
    assert len(target) == 6 and target[-1] == EOS_ID


def test_a_server_tag_leads_the_source_and_the_message_keeps_its_end(tokenizer):
    turns = ["first turn", "the message " * 20]
    plain = tokenizer.encode_source(turns, 30, 2)
    tagged = tokenizer.encode_source(turns, 30, 2, tag=True)
    assert SERVER_TAG_ID not in plain and len(plain) == 30
    assert tagged == [SERVER_TAG_ID, *plain[-29:]]  # the tag survives the cut; the oldest pieces go
    assert tokenizer.encode_source(["hi"], 30, 2, tag=True) == [SERVER_TAG_ID, *tokenizer.encode("hi")]


def test_decode_stops_at_eos_and_ignores_specials(tokenizer):
    ids = tokenizer.encode("hello there")
    assert tokenizer.decode([BOS_ID, *ids, SEP_ID, EOS_ID, *tokenizer.encode("more")]) == "hello there"


def test_save_and_load_give_the_same_tokenizer(tokenizer, tmp_path):
    tokenizer.save(tmp_path)
    loaded = SubwordTokenizer.load(tmp_path)
    assert loaded.pieces == tokenizer.pieces and loaded.lowercase == tokenizer.lowercase
    assert loaded.encode(HOSTILE[2]) == tokenizer.encode(HOSTILE[2])
