"""Decoding options: every option's type and range is checked when the object is made, and what passes decodes."""

from __future__ import annotations

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from seq2seq.chat import open_model
from seq2seq.engine.decoding import MAX_SEED, DecodeOptions


@pytest.mark.parametrize(
    "options, named",
    [
        ({"seed": -1}, "seed"),
        ({"seed": MAX_SEED + 1}, "seed"),
        ({"seed": 1.5}, "seed"),
        ({"seed": True}, "seed"),
        ({"beam_size": 0}, "beam_size"),
        ({"beam_size": 33}, "beam_size"),
        ({"beam_size": 2.0}, "beam_size"),
        ({"max_len": "5"}, "max_len"),
        ({"min_len": 30, "max_len": 20}, "min_len"),
        ({"temperature": float("nan")}, "temperature"),
        ({"temperature": float("inf")}, "temperature"),
        ({"length_penalty": -0.1}, "length_penalty"),
        ({"no_repeat_ngram": 1}, "no_repeat_ngram"),
        ({"top_k": -1}, "top_k"),
        ({"top_p": 0}, "top_p"),
        ({"top_p": None}, "top_p"),
        ({"anti_lm": False}, "anti_lm"),
        ({"anti_lm_steps": 0}, "anti_lm_steps"),
        ({"repetition_penalty": 0.5}, "repetition_penalty"),
        ({"repetition_penalty": 3.5}, "repetition_penalty"),
        ({"repetition_penalty": "1.2"}, "repetition_penalty"),
        ({"content_repeat_penalty": -1}, "content_repeat_penalty"),
        ({"content_repeat_penalty": float("nan")}, "content_repeat_penalty"),
        ({"copy_hypotheses": -1}, "copy_hypotheses"),
        ({"copy_hypotheses": 33}, "copy_hypotheses"),
        ({"copy_hypotheses": 1.0}, "copy_hypotheses"),
        ({"strategy": ["beam"]}, "strategy"),
    ],
)
def test_each_bad_option_is_a_value_error_naming_it(options, named):
    with pytest.raises(ValueError, match=named):
        DecodeOptions.from_dict(options)
    with pytest.raises(ValueError, match=named):  # made directly (as the config and the CLI do): same checks
        DecodeOptions(**options)


def test_numbers_are_stored_as_floats_and_seeds_at_the_limits_are_fine():
    options = DecodeOptions.from_dict({"temperature": 1, "seed": 0})
    assert isinstance(options.temperature, float) and options.temperature == 1.0
    assert DecodeOptions(seed=MAX_SEED).seed == MAX_SEED


def test_unknown_option_names_are_clipped():
    with pytest.raises(ValueError) as caught:
        DecodeOptions.from_dict({"x" * 5000: 1, **{f"k{i}": 1 for i in range(50)}})
    assert len(str(caught.value)) < 400


def test_cost_is_hypotheses_times_length():
    assert DecodeOptions(strategy="beam", beam_size=8, max_len=10).cost == 80
    assert DecodeOptions(strategy="sample_rank", beam_size=4, max_len=10).cost == 40
    assert DecodeOptions(strategy="greedy", beam_size=8, max_len=10).cost == 10


@pytest.fixture(scope="module")
def decoders(tiny_model_dir):
    """What serves: the v2 engine, the options as the worker maps them."""
    return [open_model(tiny_model_dir)]


# Mostly in range, with the edges and a step past them, so most draws validate and then have to decode.
OPTION_VALUES = st.fixed_dictionaries(
    {},
    optional={
        "strategy": st.sampled_from(["beam", "greedy", "sample", "sample_rank"]),
        "beam_size": st.integers(1, 33),
        "max_len": st.integers(1, 101),
        "min_len": st.integers(0, 6),
        "length_penalty": st.floats(0, 3.1),
        "no_repeat_ngram": st.sampled_from([0, 1, 2, 3, 10, 11]),
        "temperature": st.one_of(st.floats(0.01, 5.0), st.just(float("nan"))),
        "top_k": st.integers(0, 100_001),
        "top_p": st.floats(0, 1),
        "anti_lm": st.floats(0, 1),
        "anti_lm_steps": st.integers(1, 101),
        "repetition_penalty": st.floats(0.9, 3.1),
        "content_repeat_penalty": st.floats(0, 10.5),
        "copy_hypotheses": st.integers(-1, 33),
        "seed": st.one_of(st.none(), st.integers(-(2**70), 2**70)),
    },
)


@pytest.mark.filterwarnings("error::RuntimeWarning")  # NumPy's "invalid value" is a wrong reply in the making
@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(data=OPTION_VALUES)
def test_options_that_validate_always_decode(decoders, data):
    """The seed = -1 class of bug: anything the options accept must decode, anything else is a ValueError."""
    try:
        options = DecodeOptions.from_dict(data)
    except ValueError as exc:
        assert str(exc).startswith("invalid decoding options") or "must be" in str(exc)
        return
    for reply_batch in decoders:
        replies = reply_batch([["hi there"], ["how are you?"]], options)
        assert len(replies) == 2 and all(r.strip() for r in replies)
