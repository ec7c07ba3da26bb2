"""v1's greedy, beam and sampled decoding over any step function (no model inside: tests pass a fake one).

A step function maps the last tokens of every hypothesis to log-probabilities of the next one:

    step(tokens (B, K) int, beam_state, item_state) -> (log_probs (B, K, V), beam_state)

`beam_state` is a tuple of arrays shaped (B, K, ...) (recurrent states: reordered as beams move);
`item_state` is a tuple of arrays shaped (B, ...) (encoder memory: shared by an item's beams).
Finished items leave the batch, so a batch costs what its unfinished replies cost.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

NEG = -1e9


@dataclass(frozen=True)
class SearchSpec:
    bos: int
    eos: int
    banned: tuple[int, ...] = ()  # never emitted (UNK, padding, placeholders)
    max_len: int = 20
    min_len: int = 1
    beam_size: int = 5
    length_penalty: float = 0.6
    no_repeat_ngram: int = 3


def length_norm(length: np.ndarray | int, alpha: float):
    """GNMT length penalty ((5 + n) / 6) ** alpha."""
    return ((5.0 + np.asarray(length, dtype=np.float64)) / 6.0) ** alpha


def repeated_ngram_bans(history: np.ndarray, n: int) -> list[tuple[np.ndarray, np.ndarray]]:
    """For rows (N, t) of tokens: (rows, tokens) pairs whose emission would repeat an n-gram."""
    rows_t = history.shape[1]
    if n < 2 or rows_t < n - 1:
        return []
    tail = history[:, rows_t - n + 1 :]  # the n-1 most recent tokens
    bans = []
    for j in range(rows_t - n + 1):
        match = np.all(history[:, j : j + n - 1] == tail, axis=1)
        if match.any():
            rows = np.nonzero(match)[0]
            bans.append((rows, history[rows, j + n - 1]))
    return bans


def _mask_scores(log_probs: np.ndarray, spec: SearchSpec, history: np.ndarray, t: int) -> np.ndarray:
    """log_probs (N, V) for rows with `history` (N, t): apply bans, minimum length, n-gram blocking."""
    log_probs = np.array(log_probs, dtype=np.float32)  # a copy: the caller's array stays intact
    if spec.banned:
        log_probs[:, list(spec.banned)] = NEG
    if t < spec.min_len:
        log_probs[:, spec.eos] = NEG
    for rows, tokens in repeated_ngram_bans(history, spec.no_repeat_ngram):
        log_probs[rows, tokens] = NEG
    return log_probs


def beam_search(step, beam_state: tuple, item_state: tuple, batch: int, spec: SearchSpec):
    """→ (tokens: list of B int lists without EOS, scores: (B,) length-normalised log-probabilities)."""
    k, alpha = spec.beam_size, spec.length_penalty
    results: list[list[int] | None] = [None] * batch
    result_scores = np.full(batch, NEG)
    items = np.arange(batch)  # original index of each row still searching
    tokens = np.full((batch, k, 1), spec.bos, dtype=np.int64)
    # Only the first beam is live at the start, so the K beams do not all pick the same word.
    alive = np.full((batch, k), NEG)
    alive[:, 0] = 0.0
    best_fin = np.full(batch, NEG)
    best_fin_seq: list[list[int] | None] = [None] * batch
    for t in range(spec.max_len + 1):
        b = len(items)
        log_probs, beam_state = step(tokens[:, :, -1], beam_state, item_state)  # (b, k, V)
        vocab = log_probs.shape[-1]
        history = tokens[:, :, 1:].reshape(b * k, t)
        masked = _mask_scores(log_probs.reshape(b * k, vocab), spec, history, t)
        if t == spec.max_len:  # out of room: every live beam ends here
            masked[:, :] = NEG
            masked[:, spec.eos] = 0.0
        total = alive.reshape(b * k, 1) + masked  # (b*k, V)
        flat = total.reshape(b, k * vocab)
        if k * vocab > 2 * k:
            top = np.argpartition(flat, k * vocab - 2 * k, axis=1)[:, k * vocab - 2 * k :]
        else:
            top = np.tile(np.arange(k * vocab), (b, 1))
        top_scores = np.take_along_axis(flat, top, axis=1)
        order = np.argsort(-top_scores, axis=1, kind="stable")
        top, top_scores = np.take_along_axis(top, order, axis=1), np.take_along_axis(top_scores, order, axis=1)
        src_beam, word = top // vocab, top % vocab
        is_eos = word == spec.eos
        # Finished hypotheses: EOS among the top K candidates, scored with the length penalty.
        fin = is_eos & (np.arange(2 * k)[None, :] < k) & (top_scores > NEG / 2)
        fin_scores = np.where(fin, top_scores / length_norm(max(t, 1), alpha), NEG)
        best_col = fin_scores.argmax(axis=1)
        for row in np.nonzero(fin_scores.max(axis=1) > best_fin[items])[0]:
            item = items[row]
            best_fin[item] = fin_scores[row, best_col[row]]
            best_fin_seq[item] = tokens[row, src_beam[row, best_col[row]], 1:].tolist()
        # The next live beams: the best K candidates that did not end.
        keep = np.argsort(is_eos, axis=1, kind="stable")[:, :k]
        new_scores = np.take_along_axis(top_scores, keep, axis=1)
        new_src = np.take_along_axis(src_beam, keep, axis=1)
        new_word = np.take_along_axis(word, keep, axis=1)
        new_scores = np.where(np.take_along_axis(is_eos, keep, axis=1), NEG, new_scores)
        tokens = np.concatenate([np.take_along_axis(tokens, new_src[:, :, None], axis=1), new_word[:, :, None]], axis=2)
        beam_state = tuple(
            np.take_along_axis(s, new_src.reshape(b, k, *([1] * (s.ndim - 2))), axis=1) for s in beam_state
        )
        alive = new_scores
        # An item is done when its best finished reply beats every live beam as scored now (the usual
        # heuristic, as in GNMT and Hugging Face; the exact bound at max_len runs ~2x more steps).
        bound = alive.max(axis=1) / length_norm(t + 1, alpha)
        done = (best_fin[items] >= bound) | (t == spec.max_len) | (alive.max(axis=1) <= NEG / 2)
        if done.any():
            for row in np.nonzero(done)[0]:
                item = items[row]
                results[item], result_scores[item] = best_fin_seq[item] or [], best_fin[item]
            live = ~done
            if not live.any():
                break
            items, tokens, alive = items[live], tokens[live], alive[live]
            beam_state = tuple(s[live] for s in beam_state)
            item_state = tuple(s[live] for s in item_state)
    return [r if r is not None else [] for r in results], result_scores


def greedy(step, beam_state: tuple, item_state: tuple, batch: int, spec: SearchSpec) -> list[list[int]]:
    """The most likely next token each step (K = 1), with the same bans; finished items leave the batch."""
    results: list[list[int]] = [[] for _ in range(batch)]
    items = np.arange(batch)
    history = np.zeros((batch, 0), dtype=np.int64)
    last = np.full((batch, 1), spec.bos, dtype=np.int64)
    for t in range(spec.max_len + 1):
        log_probs, beam_state = step(last, beam_state, item_state)  # (b, 1, V)
        if t == spec.max_len:  # out of room: every reply ends here
            word = np.full(len(items), spec.eos)
        else:
            word = _mask_scores(log_probs[:, 0, :], spec, history, t).argmax(axis=1)
        done = word == spec.eos
        for row in np.nonzero(done)[0]:
            results[items[row]] = history[row].tolist()
        live = ~done
        if not live.any():
            break
        history = np.concatenate([history[live], word[live, None]], axis=1)
        last, items = word[live, None], items[live]
        beam_state = tuple(s[live] for s in beam_state)
        item_state = tuple(s[live] for s in item_state)
    return results


def sample(
    step,
    beam_state: tuple,
    item_state: tuple,
    batch: int,
    spec: SearchSpec,
    *,
    temperature: float,
    top_k: int,
    top_p: float,
    rng: np.random.Generator,
) -> list[list[int]]:
    """Ancestral sampling with temperature, top-k and nucleus (top-p) truncation; K must be 1."""
    return _sample(step, beam_state, item_state, batch, spec, temperature, top_k, top_p, rng)[0]


def sample_and_rank(
    step,
    beam_state: tuple,
    item_state: tuple,
    batch: int,
    spec: SearchSpec,
    *,
    samples: int,
    temperature: float,
    top_k: int,
    top_p: float,
    rng: np.random.Generator,
) -> list[list[int]]:
    """Meena's sample-and-rank: `samples` sampled replies per item (K = samples), keep the most likely one.

    Sampling gives variety; ranking by the model's own length-normalised log-probability drops the
    incoherent draws. beam_state/item_state are laid out (B, K, ...) / (B, ...) as for beam search.
    """
    flat_beams = tuple(s.reshape(batch * samples, *s.shape[2:])[:, None] for s in beam_state)
    flat_items = tuple(np.repeat(s, samples, axis=0) for s in item_state)
    out, scores = _sample(step, flat_beams, flat_items, batch * samples, spec, temperature, top_k, top_p, rng)
    lengths = np.array([max(len(o), 1) for o in out])
    normalised = (scores / length_norm(lengths, spec.length_penalty)).reshape(batch, samples)
    best = normalised.argmax(axis=1)
    return [out[i * samples + int(best[i])] for i in range(batch)]


def _sample(step, beam_state, item_state, batch, spec, temperature, top_k, top_p, rng):
    tokens = np.full((batch, 1), spec.bos, dtype=np.int64)
    finished = np.zeros(batch, dtype=bool)
    scores = np.zeros(batch)  # the model's log-probability of each sampled reply, EOS included
    out: list[list[int]] = [[] for _ in range(batch)]
    for t in range(spec.max_len + 1):
        log_probs, beam_state = step(tokens[:, None, -1], beam_state, item_state)
        if t == spec.max_len:  # out of room: end here, as beam search does
            log_probs = np.full_like(log_probs, NEG)
            log_probs[:, :, spec.eos] = 0.0
        masked = _mask_scores(log_probs[:, 0, :], spec, tokens[:, 1:], t) / temperature
        word = _draw(masked, top_k, top_p, rng)
        live = np.nonzero(~finished)[0]
        scores[live] += log_probs[live, 0, word[live]]
        for i in live:
            if word[i] == spec.eos:
                finished[i] = True
            else:
                out[i].append(int(word[i]))
        if finished.all():
            break
        tokens = np.concatenate([tokens, word[:, None]], axis=1)
    return out, scores


def _draw(scores: np.ndarray, top_k: int, top_p: float, rng: np.random.Generator) -> np.ndarray:
    """One token per row from softmax(scores), truncated to the top k, then to the top-p nucleus."""
    rows, vocab = scores.shape
    if top_k and top_k < vocab:
        # Only the k best can be drawn: sort those, not the whole vocabulary.
        candidates = np.argpartition(scores, vocab - top_k, axis=1)[:, vocab - top_k :]
    else:
        candidates = np.tile(np.arange(vocab), (rows, 1))
    cand_scores = np.take_along_axis(scores, candidates, axis=1)
    order = np.argsort(-cand_scores, axis=1)
    candidates, cand_scores = (
        np.take_along_axis(candidates, order, axis=1),
        np.take_along_axis(cand_scores, order, axis=1),
    )
    probs = np.exp(cand_scores - cand_scores[:, :1])
    probs /= probs.sum(axis=1, keepdims=True)
    if top_p < 1.0:
        cut = np.cumsum(probs, axis=1) - probs >= top_p  # keep the smallest set reaching top_p
        cut[:, 0] = False  # the likeliest always stays: a top_p below float32's least (5e-324) rounds to 0
        probs[cut] = 0.0
        probs /= probs.sum(axis=1, keepdims=True)
    cumulative = probs.cumsum(axis=1)
    draws = rng.random((rows, 1)) * cumulative[:, -1:]
    picked = np.minimum((cumulative < draws).sum(axis=1), candidates.shape[1] - 1)
    return candidates[np.arange(rows), picked]
