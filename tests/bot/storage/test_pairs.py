"""bot/storage/pairs.py: the pair rules on a message stream, no database."""

from datetime import UTC, datetime, timedelta

from bot.storage import IncomingMessage, PairKind, extract_pairs
from bot.storage.pairs import PairStream, Turn, conversation_key, pair_hash

T0 = datetime(2025, 1, 1, tzinfo=UTC)


def m(id, author, text, seconds=0, reply_to=None, *, channel=10, guild=1, bot=False, own=False):
    return IncomingMessage(id, guild, channel, author, text, T0 + timedelta(seconds=seconds), reply_to, bot, own)


def shape(pairs):
    return [(p.query.id, p.reply.id, p.kind) for p in pairs]


def test_explicit_reply_is_a_pair_whatever_its_age():
    pairs = extract_pairs([m(1, 100, "what is up"), m(2, 101, "filler"), m(3, 102, "not much", 9999, reply_to=1)])
    assert (1, 3, PairKind.REPLY) in shape(pairs)


def test_adjacent_turns_within_the_window_pair_and_beyond_it_do_not():
    pairs = extract_pairs([m(1, 100, "hi"), m(2, 101, "hey", 120), m(3, 100, "late", 241)])
    assert shape(pairs) == [(1, 2, PairKind.ADJACENT)]
    assert shape(extract_pairs([m(1, 100, "hi"), m(2, 101, "hey", 5)], window_seconds=4)) == []


def test_same_author_twice_is_no_pair_but_the_next_person_answers_the_last_message():
    pairs = extract_pairs([m(1, 100, "hi"), m(2, 100, "anyone?", 1), m(3, 101, "me", 2)])
    assert shape(pairs) == [(2, 3, PairKind.ADJACENT)]


def test_commands_bots_and_link_only_messages_are_not_learned_and_break_adjacency():
    stream = [
        m(1, 100, "hello"),
        m(2, 101, "!play song", 1),
        m(3, 102, "nice", 2),
        m(4, 200, "I am a bot", 3, bot=True),
        m(5, 103, "ok", 4),
        m(6, 104, "https://example.com", 5),
        m(7, 105, "cool", 6),
        m(8, 106, "<@100>", 7),
        m(9, 107, "yes", 8),
    ]
    assert extract_pairs(stream) == []


def test_a_reply_to_a_message_we_do_not_have_is_not_an_adjacent_pair():
    pairs = extract_pairs([m(1, 100, "hello"), m(2, 101, "yes!", 1, reply_to=999)])
    assert pairs == []


def test_replies_across_channels_do_not_pair():
    pairs = extract_pairs([m(1, 100, "hello", channel=10), m(2, 101, "hi", 1, reply_to=1, channel=11)])
    assert pairs == []


def test_exchanges_with_banter_are_their_own_kind_and_banter_is_never_the_reply():
    pairs = extract_pairs(
        [
            m(1, 100, "hi banter"),
            m(2, 999, "hello human", 1, bot=True, own=True),
            m(3, 100, "you talk!", 2),
            m(4, 101, "neat", 3, reply_to=2),
        ]
    )
    assert shape(pairs) == [(2, 3, PairKind.BOT), (2, 4, PairKind.BOT)]


def test_user_mentions_are_replaced_in_pair_text():
    (pair,) = extract_pairs([m(1, 100, "hi <@555555555555555555>"), m(2, 101, "hey <@!100>", 1)])
    assert "555" not in pair.query.text and "100" not in pair.reply.text
    assert pair.query.text == "hi @user" and pair.reply.text == "hey @user"


def test_identical_pairs_are_kept_once_per_guild():
    stream = [
        m(1, 100, "hi"),
        m(2, 101, "hello", 1),
        m(3, 102, "hi", 500),
        m(4, 103, "hello", 501),
        m(5, 100, "hi", 0, guild=2, channel=20),
        m(6, 101, "hello", 1, guild=2, channel=20),
    ]
    assert shape(extract_pairs(stream)) == [(1, 2, PairKind.ADJACENT), (5, 6, PairKind.ADJACENT)]


def test_duplicate_message_ids_are_ignored():
    assert len(extract_pairs([m(1, 100, "a b"), m(2, 101, "c d", 1), m(2, 101, "c d", 1)])) == 1


def test_a_chain_shares_one_conversation_so_the_split_cannot_leak():
    pairs = extract_pairs([m(1, 100, "a"), m(2, 101, "b", 1), m(3, 100, "c", 2), m(4, 102, "d", 3, reply_to=3)])
    assert len(pairs) == 3 and len({p.conversation_id for p in pairs}) == 1
    assert pairs[0].conversation_id == conversation_key(1)


def test_a_late_message_gets_no_adjacent_pair_and_does_not_move_the_tail():
    stream = PairStream(120)
    stream.accept(Turn(10, 1, 100, T0, "x"), None, None)
    late, pair = stream.accept(Turn(5, 1, 101, T0, "y"), None, None)
    assert pair is None and stream.tails[1].id == 10


def test_pair_hash_is_a_signed_64_bit_int_that_separates_query_from_reply():
    h = pair_hash("ab", "c")
    assert -(2**63) <= h < 2**63
    assert h == pair_hash("ab", "c") and h != pair_hash("a", "bc")
