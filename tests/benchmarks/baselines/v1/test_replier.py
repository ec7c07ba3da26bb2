"""Replies from a real tiny model: never empty, never UNK, robust to hostile input."""

import pytest

from benchmarks.baselines.v1.replier import Replier
from seq2seq.engine.decoding import DecodeOptions
from seq2seq.protocol.blocklist import Blocklist
from seq2seq.text.vocab import UNK_ID

HOSTILE = [
    "",
    "   \n\t",
    "x" * 10_000,
    "😀😀😀",
    "Привет, как дела?",
    "你好吗",
    "a\x00b\x07c",
    "\ud800 lone surrogate",
    "<@123> <@&456> @everyone https://example.com",
    "hello" * 3000,
]


@pytest.fixture(scope="module")
def replier(tiny_v1_model_dir):
    return Replier.load(tiny_v1_model_dir)


@pytest.mark.parametrize("strategy", ["beam", "greedy", "sample"])
def test_hostile_input_gets_a_non_empty_reply(replier, strategy):
    options = DecodeOptions(strategy=strategy, seed=3)
    replies = replier.reply_batch([[text] for text in HOSTILE], options)
    assert len(replies) == len(HOSTILE)
    assert all(isinstance(r, str) and r.strip() for r in replies)


def test_unk_and_placeholders_are_never_emitted(replier):
    ids = replier.reply_ids(
        [[t] for t in HOSTILE] * 3, DecodeOptions(strategy="sample", temperature=3.0, top_k=0, seed=1)
    )
    banned = set(replier.banned)
    assert UNK_ID in banned
    assert all(not (set(reply) & banned) for reply in ids)


def test_batch_and_single_replies_agree(replier):
    conversations = [["hi"], ["how are you?"], ["what do you do for fun", "i like games"]]
    batch = replier.reply_batch(conversations, DecodeOptions(strategy="greedy"))
    single = [replier.reply_batch([c], DecodeOptions(strategy="greedy"))[0] for c in conversations]
    assert batch == single


def test_max_len_is_respected(replier):
    ids = replier.reply_ids([["tell me a long story"]], DecodeOptions(max_len=3, no_repeat_ngram=0))
    assert 1 <= len(ids[0]) <= 3


def test_invalid_options_are_clear_errors():
    with pytest.raises(ValueError, match="beam_size"):
        DecodeOptions.from_dict({"beam_size": 0})
    with pytest.raises(ValueError, match="unknown decoding options: bogus"):
        DecodeOptions.from_dict({"bogus": 1})
    with pytest.raises(ValueError, match="temperature must be a number"):
        DecodeOptions.from_dict({"temperature": "hot"})


def test_blocklisted_words_are_never_generated(tiny_v1_model_dir):
    from seq2seq import model_dir

    bundle = model_dir.load(tiny_v1_model_dir)
    common = [t for t in bundle.vocab.tokens[5:40] if t.isalpha()][:5]
    replier = Replier(bundle, blocklist=Blocklist(common))
    replies = replier.reply_batch(
        [["hi"], ["how are you?"], ["what do you like?"]] * 4,
        DecodeOptions(strategy="sample", temperature=2.0, top_k=0, seed=5),
    )
    from seq2seq.text.words import tokenize

    assert not any(set(tokenize(r)) & set(common) for r in replies)


def test_a_lone_message_is_read_as_mid_conversation_unless_scoring_openers(replier):
    from seq2seq.text.vocab import SEP_ID

    live = replier.encode([["hi there"]])
    as_trained = replier.encode([["hi there"]], openers=True)
    assert live[0, 0] == SEP_ID and as_trained[0, 0] != SEP_ID
    with_context = [["how are you?", "hi there"]]
    assert (replier.encode(with_context) == replier.encode(with_context, openers=True)).all()
