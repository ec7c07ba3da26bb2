"""Each decoding feature of the engine, on a tiny model whose output bias is pushed towards a known reply, so
each test first shows the model doing the thing the feature must prevent."""

from __future__ import annotations

import re
from dataclasses import replace

import pytest

from seq2seq.engine.decode import FALLBACK_REPLY, DecodeStopped, Engine, suppressed_sequences
from seq2seq.engine.device import pick_device
from seq2seq.engine.options import EngineOptions
from seq2seq.protocol.blocklist import Blocklist
from seq2seq.text.replywords import content_repeats, words

from ..conftest import export_engine

STRATEGIES = ("greedy", "beam", "sample", "sample_rank")
WORD = "▁really"  # a whole-word piece of the fixture's tokenizer
NO_BLOCKLIST = Blocklist()


def _engine(tmp_path, tokenizer, config, weights, bias, blocklist=NO_BLOCKLIST, seed=5) -> Engine:
    folder = export_engine(tmp_path / "engine", config, weights, tokenizer, bias)
    return Engine(folder, device="cpu", compute_type="float32", blocklist=blocklist, seed=seed)


def _raw(engine: Engine, text: str, **arguments) -> list[str]:
    """The engine's top hypothesis with no protection: what the model itself would say."""
    source = engine.source_pieces([[text]])
    arguments.setdefault("max_decoding_length", 20)
    return engine.translator.translate_batch(source, **arguments)[0].hypotheses[0]


def _options(strategy: str, **changes) -> EngineOptions:
    return EngineOptions(strategy=strategy, **changes)


def _content_repeats(text: str) -> int:
    """Content words said again, as benchmarks/reply_quality counts them."""
    return content_repeats(words(text))


@pytest.mark.parametrize("strategy", STRATEGIES)
def test_minimum_length_is_honoured(tmp_path, tokenizer, tiny_config, initial_weights, strategy):
    # The model wants one word, then to stop at once.
    engine = _engine(tmp_path, tokenizer, tiny_config, initial_weights, {"</s>": 30.0, WORD: 15.0})
    short = engine.candidates([["hello"], ["what is up"]], _options(strategy, min_len=1))
    assert all(found[0].pieces == (WORD,) for found in short)
    long = engine.candidates([["hello"], ["what is up"]], _options(strategy, min_len=7))
    assert all(long) and all(len(c.pieces) >= 7 for found in long for c in found)


def _repeated_ngrams(pieces, n: int) -> bool:
    grams = [tuple(pieces[i : i + n]) for i in range(len(pieces) - n + 1)]
    return len(grams) != len(set(grams))


@pytest.mark.parametrize("strategy", STRATEGIES)
def test_no_repeat_ngram_blocks_repetition(tmp_path, tokenizer, tiny_config, initial_weights, strategy):
    engine = _engine(tmp_path, tokenizer, tiny_config, initial_weights, {WORD: 15.0})
    repeating = engine.candidates([["hello"]], _options(strategy, no_repeat_ngram=0, max_len=12))[0]
    assert repeating and all(_repeated_ngrams(c.pieces, 2) for c in repeating)  # "really really really …"
    for n in (2, 3):
        found = engine.candidates([["hello"], ["how are you"]], _options(strategy, no_repeat_ngram=n, max_len=12))
        assert all(found) and not any(_repeated_ngrams(c.pieces, n) for f in found for c in f)


@pytest.mark.parametrize("strategy", STRATEGIES)
def test_a_blocked_word_never_appears(tmp_path, tokenizer, tiny_config, initial_weights, strategy):
    unblocked = _engine(tmp_path / "a", tokenizer, tiny_config, initial_weights, {WORD: 8.0})
    blocked = _engine(
        tmp_path / "b", tokenizer, tiny_config, initial_weights, {WORD: 8.0}, blocklist=Blocklist(["Really"])
    )
    prompts = [["hello"], ["what do you do for fun"], ["tell me about your day", "it was long"]]
    assert all("really" in reply for reply in unblocked.reply_batch(prompts, _options(strategy)))
    for _ in range(3):
        for found in blocked.candidates(prompts, EngineOptions(strategy=strategy, temperature=1.5)):
            for candidate in found:
                assert WORD not in candidate.pieces
                assert not re.search(r"\breally\b", candidate.text)


def test_blocked_words_are_suppressed_in_every_casing_the_tokenizer_keeps(tokenizer):
    from seq2seq.text.corpus import chitchat_pairs
    from seq2seq.text.subword import SubwordSettings, SubwordTokenizer

    folded = suppressed_sequences(tokenizer, {"hello"})
    assert [p for p in folded if "".join(p).strip("▁").lower() == "hello"] == [tokenizer.encode_pieces("hello")]
    cased = SubwordTokenizer.train(
        [p.reply for p in chitchat_pairs()[:1000]], SubwordSettings(vocab_size=500, lowercase=False)
    )
    sequences = suppressed_sequences(cased, {"hello"})
    for variant in ("hello", "Hello", "HELLO"):
        assert cased.encode_pieces(variant) in sequences
    for special in ("<s>", "<pad>", "<sep>", "<url>", "<user>"):
        assert [special] in sequences
    assert tokenizer.encode_pieces("bad phrase") in suppressed_sequences(tokenizer, {"bad phrase"})  # phrases too


def test_specials_and_placeholders_are_never_said(tmp_path, tokenizer, tiny_config, initial_weights):
    specials = ("<s>", "<pad>", "<sep>", "<url>", "<user>", "<unk>")
    engine = _engine(tmp_path, tokenizer, tiny_config, initial_weights, {p: 30.0 for p in specials})
    assert set(_raw(engine, "hello", beam_size=1, max_decoding_length=8)) <= set(specials)  # all it wants
    for strategy in STRATEGIES:
        for found in engine.candidates([["hello"], ["how are you"]], _options(strategy, temperature=2.0)):
            assert all(not set(c.pieces) & set(specials) for c in found)


def test_sample_rank_keeps_the_best_draw_by_the_mmi_formula(tmp_path, tokenizer, tiny_config, initial_weights):
    folder = export_engine(tmp_path / "engine", tiny_config, initial_weights, tokenizer)
    engine = Engine(folder, device="cpu", compute_type="float32", seed=9)
    options = EngineOptions(
        strategy="sample_rank",
        beam_size=8,
        temperature=1.5,
        top_k=0,
        top_p=1.0,
        anti_lm=0.5,
        anti_lm_steps=3,
        content_repeat_penalty=1.0,
    )
    conversation = ["what do you do for fun"]
    found = engine.candidates([conversation], options)[0]
    assert len(found) >= 4  # distinct draws to choose from

    # The formula, recomputed here: log p(T|S) as the search scored each draw (a fresh engine with the same seed
    # draws the same replies), the anti-LM from the engine scoring each whole reply against a neutral source.
    twin = Engine(folder, device="cpu", compute_type="float32", seed=9)
    source = twin.source_pieces([conversation])[0]
    draws = twin.translator.translate_batch([source], **twin._search_arguments(options))[0]
    log_p = {tuple(h): s for h, s in zip(draws.hypotheses, draws.scores, strict=True)}
    by_formula = {}
    for candidate in found:
        anti = twin.translator.score_batch([["<sep>"]], [list(candidate.pieces)])[0].log_probs
        length_norm = ((5 + len(candidate.pieces)) / 6) ** options.length_penalty
        repeats = _content_repeats(candidate.text)  # less the penalty per content word said again
        by_formula[candidate.pieces] = (log_p[candidate.pieces] - 0.5 * sum(anti[:3])) / length_norm - repeats
        assert candidate.score == pytest.approx(by_formula[candidate.pieces], abs=1e-3)
    assert found[0].pieces == max(by_formula, key=by_formula.get)
    assert [c.score for c in found] == sorted((c.score for c in found), reverse=True)
    # The anti-LM term is live: it is not the same for every draw.
    assert len({round(c.anti_lm_log_prob, 3) for c in found}) > 1
    # And log p(T|S) is the model's, not the tempered sampling distribution's (only the search's bans differ).
    for candidate in found:
        if len(candidate.pieces) < options.max_len:  # ended with EOS, as score_batch scores it
            plain = sum(twin.translator.score_batch([source], [list(candidate.pieces)])[0].log_probs)
            assert candidate.log_prob == pytest.approx(plain, abs=0.05 * len(candidate.pieces) + 0.05)
    # A fresh engine with the same seed draws the same replies and says the best one.
    again = Engine(folder, device="cpu", compute_type="float32", seed=9)
    assert again.reply_batch([conversation], options) == [found[0].text]


@pytest.mark.parametrize("strategy", ["sample", "sample_rank"])
def test_a_call_with_a_seed_repeats_whatever_the_batch(random_engine_dir, strategy):
    engine = Engine(random_engine_dir, device="cpu", compute_type="float32")  # its own draws are unseeded
    options = EngineOptions(strategy=strategy, temperature=1.5, top_k=0, top_p=1.0, max_len=12)
    seeded = replace(options, seed=3)
    alone = engine.reply_batch([["what do you do for fun"]], seeded)
    assert engine.reply_batch([["what do you do for fun"]], seeded) == alone
    crowd = engine.reply_batch([["hi"], ["what do you do for fun"], ["hi"]], seeded)
    assert crowd[1] == alone[0] and crowd[0] == crowd[2]  # each conversation draws from the seed afresh
    assert len({engine.reply_batch([["what do you do for fun"]], replace(options, seed=s))[0] for s in range(6)}) > 1
    unseeded = {engine.reply_batch([["what do you do for fun"]], options)[0] for _ in range(6)}
    assert len(unseeded) > 1  # without a seed, the engine's own generator moves on call after call
    with pytest.raises(ValueError, match="seed"):
        replace(options, seed=-1)


@pytest.mark.parametrize("strategy", STRATEGIES)
def test_decoding_stops_when_asked(random_engine_dir, strategy):
    engine = Engine(random_engine_dir, device="cpu", compute_type="float32")
    options = EngineOptions(strategy=strategy, min_len=20, max_len=20, anti_lm=0.0)
    asked = []

    def after(calls: int):
        def should_stop() -> bool:
            asked.append(1)
            return len(asked) > calls

        return should_stop

    assert all(engine.reply_batch([["hi"], ["hello"]], options, should_stop=lambda: False))
    with pytest.raises(DecodeStopped):
        engine.reply_batch([["hi"], ["hello"]], options, should_stop=after(0))  # before any search
    asked.clear()
    if strategy == "beam":  # no call-back inside beam search (a request's cost bounds it): asked before and after
        with pytest.raises(DecodeStopped):
            engine.reply_batch([["hi"], ["hello"]], options, should_stop=after(1))
        assert len(asked) == 2
        return
    with pytest.raises(DecodeStopped):
        engine.reply_batch([["hi"], ["hello"]], options, should_stop=after(3))
    # Greedy and sampled searches call back after each piece of each hypothesis: told to stop at the 4th call,
    # they stop within that step, long before the 20 steps' 20 × 2 × hypotheses calls.
    assert len(asked) <= 4 + 2 * options.hypotheses


@pytest.mark.parametrize("strategy", ["sample", "sample_rank"])
def test_top_k_of_one_or_past_the_vocabulary_still_decodes(random_engine_dir, strategy):
    # Found by the options property test: CTranslate2 refuses several hypotheses when top-k 1 makes its search
    # greedy, and any k larger than the vocabulary.
    engine = Engine(random_engine_dir, device="cpu", compute_type="float32")
    greedy = engine.reply_batch([["hi"], ["how are you"]], EngineOptions(strategy="greedy", anti_lm=0.0))
    assert engine.reply_batch([["hi"], ["how are you"]], EngineOptions(strategy=strategy, top_k=1)) == greedy
    vocabulary = engine.config.vocab_size
    assert all(engine.reply_batch([["hi"], ["how are you"]], EngineOptions(strategy=strategy, top_k=vocabulary + 1)))


def test_a_server_tagged_model_tags_every_message_it_answers(tmp_path, tokenizer, tiny_config, random_weights):
    conversation = [["hi there", "how are you " * 40]]  # longer than the source: the tag must survive the cut
    plain = _engine(tmp_path / "plain", tokenizer, tiny_config, random_weights, None)
    tagged = _engine(tmp_path / "tagged", tokenizer, replace(tiny_config, server_tag=True), random_weights, None)
    before, after = plain.source_pieces(conversation)[0], tagged.source_pieces(conversation)[0]
    assert len(before) == len(after) == tiny_config.max_source_len
    assert after == ["<s>", *before[1:]] and "<s>" not in before
    # The same weights score a reply differently once the tag leads the source: the engine reads it.
    assert tagged.score(conversation, ["i am fine"]) != plain.score(conversation, ["i am fine"])


def test_no_empty_reply(tmp_path, tokenizer, tiny_config, initial_weights):
    # The model's favourite reply is a lone space mark or half an emoji's bytes: nothing printable.
    for piece in ("▁", "<0xF0>"):
        engine = _engine(tmp_path / piece, tokenizer, tiny_config, initial_weights, {piece: 25.0, "</s>": 30.0})
        raw = _raw(engine, "hello", beam_size=1)
        assert raw == [piece] and engine.tokenizer.decode_pieces(raw).replace("\ufffd", "").strip() == ""
        for strategy in STRATEGIES:
            replies = engine.reply_batch([["hello"], [""], ["what is up"]], _options(strategy))
            assert all(r.strip() for r in replies)
        # With several hypotheses, a printable one wins over the fallback.
        assert engine.reply("hello", _options("beam", beam_size=4)) != FALLBACK_REPLY


def test_batch_and_single_replies_agree(random_engine_dir):
    engine = Engine(random_engine_dir, device="cpu", compute_type="float32")
    conversations = [["hi"], ["how are you?"], ["what do you do for fun", "i like games"], ["x" * 5000]]
    options = EngineOptions(strategy="beam")
    batch = engine.reply_batch(conversations, options)
    assert batch == [engine.reply_batch([c], options)[0] for c in conversations]


def test_device_choice(monkeypatch):
    import ctranslate2

    gpus = ctranslate2.get_cuda_device_count()
    monkeypatch.delenv("BANTER_DEVICE", raising=False)
    assert pick_device() == ("cuda" if gpus else "cpu")
    assert pick_device("cpu") == "cpu"
    monkeypatch.setenv("BANTER_DEVICE", "CPU")
    assert pick_device() == "cpu"
    monkeypatch.setenv("BANTER_DEVICE", "tpu")
    with pytest.raises(ValueError, match="BANTER_DEVICE"):
        pick_device()
    if gpus:
        assert pick_device("cuda") == "cuda"
    else:
        with pytest.raises(RuntimeError, match="no CUDA device"):
            pick_device("cuda")


def test_options_mirror_the_bots_decode_options():
    from seq2seq.engine.decoding import DecodeOptions

    options = EngineOptions.from_decode_options(DecodeOptions(strategy="beam", max_len=20, min_len=2, anti_lm=0.2))
    assert (options.strategy, options.min_len, options.anti_lm) == ("beam", 2, 0.2)
    assert options.max_len >= 20  # a word is at least one piece
    assert EngineOptions.from_decode_options(DecodeOptions()).to_dict().keys() == EngineOptions().to_dict().keys()
    assert EngineOptions.from_decode_options(DecodeOptions(seed=7)).seed == 7
    with pytest.raises(ValueError, match="min_len"):
        EngineOptions(min_len=10, max_len=5)
    with pytest.raises(ValueError, match="strategy"):
        EngineOptions(strategy="nucleus")


@pytest.mark.parametrize("strategy", ["greedy", "beam"])
def test_repetition_penalty_steers_away_from_pieces_already_said(
    tmp_path, tokenizer, tiny_config, initial_weights, strategy
):
    engine = _engine(tmp_path, tokenizer, tiny_config, initial_weights, {WORD: 4.0})
    options = _options(strategy, no_repeat_ngram=0, min_len=10, max_len=10, anti_lm=0.0)
    plain = engine.candidates([["hello"]], options)[0][0]
    assert plain.pieces.count(WORD) == 10  # "really really really …"
    penalised = engine.candidates([["hello"]], replace(options, repetition_penalty=3.0))[0][0]
    assert len(penalised.pieces) == 10 and penalised.pieces.count(WORD) <= 2  # said, then others preferred
    with pytest.raises(ValueError, match="repetition_penalty"):
        replace(options, repetition_penalty=0.5)


def test_sample_rank_prefers_replies_that_do_not_repeat_a_content_word(
    tmp_path, tokenizer, tiny_config, initial_weights
):
    # The model likes "really" (a content word: not a stop word) so much that its likeliest draws say it twice.
    folder = export_engine(tmp_path / "engine", tiny_config, initial_weights, tokenizer, {WORD: 4.0, "</s>": 2.0})
    options = EngineOptions(
        strategy="sample_rank", beam_size=16, temperature=1.0, top_k=0, top_p=1.0, max_len=8, no_repeat_ngram=2
    )
    conversation = [["what do you do for fun"]]
    # Engines with the same seed draw the same replies: only the ranking differs.
    plain = Engine(folder, device="cpu", compute_type="float32", seed=3).candidates(
        conversation, replace(options, content_repeat_penalty=0.0)
    )[0]
    ranked = Engine(folder, device="cpu", compute_type="float32", seed=3).candidates(conversation, options)[0]
    assert sorted(c.pieces for c in plain) == sorted(c.pieces for c in ranked)
    repeats = {c.pieces: _content_repeats(c.text) for c in plain}
    assert repeats[plain[0].pieces] > 0 and min(repeats.values()) == 0  # the likeliest repeats; others do not
    assert repeats[ranked[0].pieces] == 0
    by_pieces = {c.pieces: c.score for c in plain}
    for candidate in ranked:  # the score, less the penalty per content word said again
        expected = by_pieces[candidate.pieces] - options.content_repeat_penalty * repeats[candidate.pieces]
        assert candidate.score == pytest.approx(expected, abs=1e-6)
