"""A fine-tuned model's server words: kept beside the engine, found in conversations, and copied by hypotheses that
open with them, ranked with the others. Written by a real fine-tune: tests/seq2seq/worker/test_upgrade.py."""

from __future__ import annotations

import json

import pytest

from seq2seq.engine import copying
from seq2seq.engine.decode import Engine, rank_score
from seq2seq.engine.options import EngineOptions
from seq2seq.protocol.blocklist import Blocklist
from seq2seq.text.replywords import content_repeats, words

from ..conftest import export_engine

NAME = "glorpy"  # spelled in several pieces by the fixture's tokenizer, as an invented name is
OPTIONS = EngineOptions(strategy="sample_rank", beam_size=4, temperature=1.2, top_k=0, top_p=1.0, max_len=10)


@pytest.fixture
def folder(tmp_path, tokenizer, tiny_config, initial_weights):
    return export_engine(tmp_path / "engine", tiny_config, initial_weights, tokenizer, {"▁really": 6.0})


def _word(tokenizer, text: str) -> tuple[str, ...]:
    """A word's pieces as training finds it: a custom emoji's "<:" opens a word of its own, after a lone "▁"."""
    pieces = tokenizer.encode_pieces(text)
    return tuple(pieces[1:] if pieces[:2] == ["▁", "<:"] else pieces)


def test_words_round_trip_and_none_leaves_no_file(tmp_path, tokenizer):
    word = _word(tokenizer, NAME)
    copying.write_words(tmp_path, [word, list(word), ("<:", "ke", ":id>")])
    assert copying.read_words(tmp_path) == {word, ("<:", "ke", ":id>")}
    copying.write_words(tmp_path, [])
    assert not (tmp_path / copying.WORDS_FILE).exists() and copying.read_words(tmp_path) == frozenset()
    (tmp_path / copying.WORDS_FILE).write_text(json.dumps({"format": 99, "words": []}))
    with pytest.raises(ValueError, match="unknown format 99"):
        copying.read_words(tmp_path)


def test_words_are_found_whole_latest_first_at_most_two(tokenizer):
    name, game, emoji = (_word(tokenizer, w) for w in (NAME, "zorbleflux", "<:kekwait:1034567890123456790>"))
    known = frozenset({name, game, emoji})
    source = tokenizer.encode_pieces("glorpy and zorbleflux <sep> <:kekwait:1034567890123456790> is glorpy")
    assert copying.words_in(source, known) == [name, emoji]  # the message's own first, each once
    assert copying.words_in(tokenizer.encode_pieces("glorpyness and zorbleflux"), known) == [game]  # whole words
    assert copying.words_in(source, frozenset()) == []


def test_a_server_word_in_the_conversation_is_copied_and_ranked_by_the_same_score(folder, tokenizer):
    word = _word(tokenizer, NAME)
    copying.write_words(folder, [word])
    engine = Engine(folder, device="cpu", compute_type="float32", seed=3)
    conversation = ["have you seen glorpy today"]
    # The model itself never opens with the name: without copies no candidate does.
    plain = engine.candidates([conversation], EngineOptions(**{**OPTIONS.to_dict(), "copy_hypotheses": 0}))[0]
    assert plain and not any(c.pieces[: len(word)] == word for c in plain)

    found = engine.candidates([conversation], EngineOptions(**{**OPTIONS.to_dict(), "copy_hypotheses": 2}))[0]
    copies = [c for c in found if c.pieces[: len(word)] == word]
    assert 1 <= len(copies) <= 2 and all(c.text.startswith(NAME) for c in copies)
    # Scored as whole replies by the model, then by the formula every candidate is ranked by.
    source = engine.source_pieces([conversation])[0]
    for c in copies:
        whole = sum(engine.translator.score_batch([source], [list(c.pieces)])[0].log_probs)
        anti = sum(engine.translator.score_batch([["<sep>"]], [list(c.pieces[:3])])[0].log_probs[:3])
        assert c.log_prob == pytest.approx(whole, abs=1e-3)
        expected = rank_score(whole, anti, len(c.pieces), OPTIONS.anti_lm, OPTIONS.length_penalty)
        assert c.score == pytest.approx(expected - content_repeats(words(c.text)), abs=1e-3)
    assert [c.score for c in found] == sorted((c.score for c in found), reverse=True)


def test_copies_change_nothing_where_no_server_word_is_said(folder, tokenizer):
    copying.write_words(folder, [_word(tokenizer, NAME)])
    engine = Engine(folder, device="cpu", compute_type="float32")
    seeded = EngineOptions(**{**OPTIONS.to_dict(), "seed": 11})
    conversations = [["what do you do for fun"], ["glorpyness is a word", "is it"]]
    with_copies = engine.candidates(conversations, seeded)
    without = engine.candidates(conversations, EngineOptions(**{**seeded.to_dict(), "copy_hypotheses": 0}))
    assert [[c.pieces for c in f] for f in with_copies] == [[c.pieces for c in f] for f in without]


@pytest.mark.parametrize("strategy", ["beam", "greedy", "sample"])
def test_copies_join_beam_ranking_only(folder, tokenizer, strategy):
    word = _word(tokenizer, NAME)
    copying.write_words(folder, [word])
    engine = Engine(folder, device="cpu", compute_type="float32", seed=3)
    options = EngineOptions(strategy=strategy, beam_size=4, max_len=10, anti_lm=0.3, copy_hypotheses=1)
    found = engine.candidates([["have you seen glorpy today"]], options)[0]
    # Beam search ranks its beams with the anti-LM, so a copy joins them; greedy and one sample rank nothing.
    assert any(c.pieces[: len(word)] == word for c in found) == (strategy == "beam")


def test_a_blocked_or_unsayable_server_word_is_never_copied(folder, tokenizer):
    copying.write_words(folder, [_word(tokenizer, NAME), ("<url>",)])
    assert Engine(folder, device="cpu", blocklist=Blocklist([NAME])).server_words == frozenset()
    assert Engine(folder, device="cpu", blocklist=Blocklist()).server_words == {_word(tokenizer, NAME)}
