"""MMI-antiLM decoding (Li et al., 2016): penalise replies that are likely whatever was said ("i don't know").

score(T) = log p(T | S) - λ · log p(T | ∅) over the first γ reply tokens, where p(T | ∅) is the same
decoder fed an empty message, so no separate language model is needed. Only the opening tokens are
penalised: that is where generic replies are decided, and penalising later ones breaks grammar.
"""

from __future__ import annotations

import numpy as np

from seq2seq.text.vocab import SEP_ID


def anti_lm_step(network, batch: int, k: int, weight: float, steps: int, main_states: tuple, main_item: tuple):
    """→ (step function, beam_state, item_state) for `search.beam_search` / `search.sample`."""
    lm_states, lm_item = network.encode(np.full((batch, 1), SEP_ID, dtype=np.int32))
    n_main = len(main_states)
    n_item = len(main_item)
    beam_state = (
        *network.initial_beams(main_states, k),
        *network.initial_beams(lm_states, k),
        np.zeros((batch, k, 1), dtype=np.int32),
    )  # the step counter travels with each beam
    item_state = (*main_item, *lm_item)

    def step(tokens, state, items):
        main, lm, counter = state[:n_main], state[n_main:-1], state[-1]
        log_probs, main = network.step(tokens, main, items[:n_item])
        if int(counter.max()) < steps:
            lm_log_probs, lm = network.step(tokens, lm, items[n_item:])
            log_probs = log_probs - weight * lm_log_probs
        return log_probs, (*main, *lm, counter + 1)

    return step, beam_state, item_state
