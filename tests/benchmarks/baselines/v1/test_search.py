"""Beam, greedy and sampled search against hand-written step functions whose answers are known."""

import zlib

import numpy as np
import pytest

from benchmarks.baselines.v1.search import SearchSpec, beam_search, length_norm, repeated_ngram_bans, sample

BOS, EOS, V = 1, 2, 8


def table_step(table):
    """A fake model: log-probabilities depend only on the tokens so far (looked up in `table`)."""

    def step(tokens, beam_state, item_state):
        (history,) = beam_state  # (B, K, t) tokens so far, carried as state
        history = np.concatenate([history, tokens[:, :, None]], axis=2)
        b, k, _ = history.shape
        out = np.full((b, k, V), -30.0)
        for i in range(b):
            for j in range(k):
                prefix = tuple(int(x) for x in history[i, j, 1:])  # without BOS
                for word, logp in table(prefix).items():
                    if word < V:  # dead beams may wander off the table's vocabulary
                        out[i, j, word] = logp
        return out, (history,)

    return step


def start(batch, k):
    return (np.zeros((batch, k, 0), dtype=np.int64),), ()


def test_beam_finds_the_best_sequence_that_greedy_misses():
    # Greedy takes 3 (p=.6) then is stuck with .2 each; 4 (p=.4) leads to a sure 5 then EOS.
    def table(prefix):
        if prefix == ():
            return {3: np.log(0.6), 4: np.log(0.4)}
        if prefix == (3,):
            return {6: np.log(0.2), 7: np.log(0.2), 5: np.log(0.2), EOS: np.log(0.2)}
        if prefix == (4,):
            return {5: np.log(0.99)}
        return {EOS: 0.0}

    spec = SearchSpec(bos=BOS, eos=EOS, max_len=5, beam_size=3, length_penalty=0.0, no_repeat_ngram=0)
    greedy = SearchSpec(bos=BOS, eos=EOS, max_len=5, beam_size=1, length_penalty=0.0, no_repeat_ngram=0)
    best, score = beam_search(table_step(table), *start(1, 3), 1, spec)
    assert best == [[4, 5]]
    assert score[0] == pytest.approx(np.log(0.4) + np.log(0.99))
    first, _ = beam_search(table_step(table), *start(1, 1), 1, greedy)
    assert first[0][0] == 3


def test_repeated_ngrams_are_blocked():
    # The model loves "3 4 3 4 3 4 ...": with 2-gram blocking "3 4" may appear once.
    def table(prefix):
        last = prefix[-1] if prefix else 4
        return {3 if last == 4 else 4: -0.01, 5: -3.0, EOS: -4.0}

    spec = SearchSpec(bos=BOS, eos=EOS, max_len=8, beam_size=2, no_repeat_ngram=2)
    (reply,), _ = beam_search(table_step(table), *start(1, 2), 1, spec)
    bigrams = list(zip(reply, reply[1:], strict=False))
    assert len(bigrams) == len(set(bigrams))
    assert repeated_ngram_bans(np.array([[3, 4, 3]]), 2)[0][1].tolist() == [4]


def test_length_penalty_prefers_longer_replies():
    # "7 EOS" scores log(.5); "3 4 5 EOS" scores log(.5)+3*log(.95): worse raw, better per token.
    def table(prefix):
        if prefix == ():
            return {7: np.log(0.5), 3: np.log(0.5)}
        if prefix == (7,):
            return {EOS: 0.0}
        if len(prefix) < 3:
            return {prefix[-1] + 1: np.log(0.95), EOS: np.log(0.05)}
        return {EOS: np.log(0.95)}

    short = SearchSpec(bos=BOS, eos=EOS, max_len=6, beam_size=4, length_penalty=0.0, no_repeat_ngram=0)
    long = SearchSpec(bos=BOS, eos=EOS, max_len=6, beam_size=4, length_penalty=2.0, no_repeat_ngram=0)
    assert beam_search(table_step(table), *start(1, 4), 1, short)[0] == [[7]]
    assert beam_search(table_step(table), *start(1, 4), 1, long)[0] == [[3, 4, 5]]
    assert length_norm(5, 1.0) == pytest.approx(10 / 6)


def test_min_length_banned_tokens_and_batches_that_finish_at_different_times():
    def table(prefix):
        return {EOS: -0.01, 4: -2.0, 5: -3.0, 6: -0.001}

    spec = SearchSpec(bos=BOS, eos=EOS, banned=(6,), max_len=6, min_len=2, beam_size=2, no_repeat_ngram=2)
    replies, scores = beam_search(table_step(table), *start(3, 2), 3, spec)
    for reply in replies:
        assert len(reply) >= 2 and 6 not in reply
    assert np.all(np.isfinite(scores))


def test_max_length_ends_every_beam():
    spec = SearchSpec(bos=BOS, eos=EOS, max_len=4, beam_size=2, no_repeat_ngram=0)
    replies, _ = beam_search(table_step(lambda p: {3: -0.1, EOS: -9.0}), *start(2, 2), 2, spec)
    assert replies == [[3, 3, 3, 3], [3, 3, 3, 3]]


def test_sampling_respects_top_k_and_temperature():
    def table(prefix):
        return {3: np.log(0.5), 4: np.log(0.3), 5: np.log(0.2)} if len(prefix) < 3 else {EOS: 0.0}

    spec = SearchSpec(bos=BOS, eos=EOS, max_len=5, beam_size=1, no_repeat_ngram=0)
    rng = np.random.default_rng(0)
    step = table_step(table)
    out = sample(
        step, (np.zeros((200, 1, 0), dtype=np.int64),), (), 200, spec, temperature=1.0, top_k=2, top_p=1.0, rng=rng
    )
    seen = {w for reply in out for w in reply}
    assert seen == {3, 4}
    cold = sample(
        step, (np.zeros((50, 1, 0), dtype=np.int64),), (), 50, spec, temperature=0.05, top_k=0, top_p=1.0, rng=rng
    )
    assert all(reply == [3, 3, 3] for reply in cold)
    nucleus = sample(
        step, (np.zeros((100, 1, 0), dtype=np.int64),), (), 100, spec, temperature=1.0, top_k=0, top_p=0.4, rng=rng
    )
    assert {w for reply in nucleus for w in reply} == {3}


def test_sample_and_rank_keeps_the_most_likely_draw():
    from benchmarks.baselines.v1.search import sample_and_rank

    # First word: 3 (p=.5) leads to a sure EOS; 4 (p=.5) leads to a coin flip between 5 and 6.
    def table(prefix):
        if prefix == ():
            return {3: np.log(0.5), 4: np.log(0.5)}
        if prefix == (4,):
            return {5: np.log(0.5), 6: np.log(0.5)}
        return {EOS: 0.0}

    spec = SearchSpec(bos=BOS, eos=EOS, max_len=4, beam_size=8, length_penalty=0.0, no_repeat_ngram=0)
    rng = np.random.default_rng(1)
    out = sample_and_rank(
        table_step(table), *start(20, 8), 20, spec, samples=8, temperature=1.0, top_k=0, top_p=1.0, rng=rng
    )
    assert out == [[3]] * 20  # with 8 draws, "3" is (almost) always drawn and it is the most likely reply


def test_sampling_stops_at_max_len():
    spec = SearchSpec(bos=BOS, eos=EOS, max_len=3, beam_size=1, no_repeat_ngram=0)
    out = sample(
        table_step(lambda p: {3: 0.0}),
        (np.zeros((4, 1, 0), dtype=np.int64),),
        (),
        4,
        spec,
        temperature=1.0,
        top_k=0,
        top_p=1.0,
        rng=np.random.default_rng(0),
    )
    assert out == [[3, 3, 3]] * 4


def test_greedy_agrees_with_a_beam_of_one_and_finishes_items_independently():
    from benchmarks.baselines.v1.search import greedy

    def table(prefix):
        if len(prefix) < (3 if prefix[:1] == (3,) else 1):
            return {3: -0.1, 4: -0.5, EOS: -3.0} if not prefix else {5: -0.1, 6: -0.2, EOS: -4.0}
        return {EOS: -0.01, 7: -2.0}

    spec = SearchSpec(bos=BOS, eos=EOS, max_len=6, beam_size=1, length_penalty=0.0, no_repeat_ngram=2)
    fast = greedy(table_step(table), *start(3, 1), 3, spec)
    slow, _ = beam_search(table_step(table), *start(3, 1), 3, spec)
    assert fast == slow == [[3, 5, 5]] * 3


def item_step():
    """A fake model whose answers differ by batch item: seeded log-probabilities per (item, prefix), with EOS
    likelier as a reply grows. The item's id travels in item_state, which search must slice with its rows."""

    def step(tokens, beam_state, item_state):
        (history,) = beam_state
        history = np.concatenate([history, tokens[:, :, None]], axis=2)
        (ids,) = item_state
        b, k, t = history.shape
        out = np.empty((b, k, V))
        for i in range(b):
            for j in range(k):
                prefix = tuple(int(x) for x in history[i, j, 1:])
                rng = np.random.default_rng(zlib.crc32(repr((int(ids[i]), prefix)).encode()))
                logits = rng.normal(0.0, 2.0, V)
                logits[EOS] += 0.8 * (t - 1) - 2.0
                out[i, j] = logits - np.logaddexp.reduce(logits)
        return out, (history,)

    return step


def test_a_batch_of_different_items_gives_what_each_item_gives_alone():
    spec = SearchSpec(bos=BOS, eos=EOS, banned=(0,), max_len=7, min_len=2, beam_size=3, no_repeat_ngram=2)
    items = np.arange(8)
    beams = start(8, 3)[0]
    batched, batched_scores = beam_search(item_step(), beams, (items,), 8, spec)
    alone = [beam_search(item_step(), start(1, 3)[0], (items[i : i + 1],), 1, spec) for i in range(8)]
    assert batched == [reply[0] for reply, _ in alone]
    np.testing.assert_allclose(batched_scores, [score[0] for _, score in alone])
    # The case is worth testing only if the items differ and leave the batch at different steps.
    assert len({tuple(r) for r in batched}) == 8 and len({len(r) for r in batched}) > 1


def test_a_vanishing_top_p_keeps_the_likeliest_token():
    """Found by the decoding-options property test: top_p=5e-324 is 0 in float32, which cut every token."""
    from benchmarks.baselines.v1.search import _draw

    scores = np.log(np.array([[0.1, 0.6, 0.3], [0.5, 0.2, 0.3]], dtype=np.float32))
    with np.errstate(invalid="raise", divide="raise"):
        picked = _draw(scores, top_k=0, top_p=5e-324, rng=np.random.default_rng(0))
    assert picked.tolist() == [1, 0]
