"""Vocabulary: frequency ranking, specials, encode/decode and its file."""

import pytest

from seq2seq.text.vocab import BOS_ID, EOS_ID, SPECIALS, UNK_ID, Vocabulary


def test_build_keeps_most_frequent_words_after_specials():
    vocab = Vocabulary.build([["a", "b", "a"], ["c", "a", "b"]], size=2)
    assert vocab.tokens == SPECIALS + ("a", "b")
    assert vocab.id("c") == UNK_ID


def test_encode_decode_round_trip_stops_at_eos(tmp_path):
    vocab = Vocabulary.build([["hello", "world"]], size=10)
    ids = vocab.encode(["hello", "world"])
    assert vocab.decode([BOS_ID, *ids, EOS_ID, ids[0]]) == ["hello", "world"]
    vocab.save(tmp_path / "v.json")
    assert Vocabulary.load(tmp_path / "v.json") == vocab


def test_unk_rate():
    vocab = Vocabulary.build([["a", "a", "b"]], size=1)
    assert vocab.unk_rate([["a", "b"], ["a", "a"]]) == pytest.approx(0.25)


def test_corrupt_file_is_a_clear_error(tmp_path):
    bad = tmp_path / "vocab.json"
    bad.write_text("{not json")
    with pytest.raises(ValueError, match="vocab.json"):
        Vocabulary.load(bad)
    bad.write_text('{"tokens": ["x", "y"]}')
    with pytest.raises(ValueError, match="special tokens"):
        Vocabulary.load(bad)
