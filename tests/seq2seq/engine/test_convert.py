"""The converter: CTranslate2's scores equal the Keras forward pass; the exported folder serves on its own."""

from __future__ import annotations

import dataclasses

import numpy as np
import pytest

from seq2seq.text.vocab import EOS_ID
from seq2seq.train.batching import pad_batch

from ..conftest import export_engine


def _keras_log_probs(model, sources, targets) -> list[np.ndarray]:
    """log p(each target token and EOS | source) from the Keras model, padded batch and all."""
    src, t_in, t_out = pad_batch(
        [np.array(s, np.int32) for s in sources], [np.array(t + [EOS_ID], np.int32) for t in targets]
    )
    logits = np.asarray(model.predict_on_batch((src, t_in)), dtype=np.float64)
    logits -= logits.max(axis=-1, keepdims=True)
    log_probs = logits - np.log(np.exp(logits).sum(axis=-1, keepdims=True))
    picked = np.take_along_axis(log_probs, t_out[..., None], axis=-1)[..., 0]
    return [picked[i, : len(t) + 1] for i, t in enumerate(targets)]


@pytest.mark.parametrize("activation", ["relu", "gelu"])
def test_engine_scores_equal_the_keras_forward_pass(tmp_path, tokenizer, tiny_config, random_weights, activation):
    import ctranslate2

    from seq2seq.model.transformer import build
    from seq2seq.model_dir import assign_weights

    config = dataclasses.replace(tiny_config, activation=activation)
    model = build(config)
    assign_weights(model, random_weights)
    folder = export_engine(tmp_path / "engine", config, random_weights, tokenizer)
    translator = ctranslate2.Translator(str(folder), device="cpu", compute_type="float32", intra_threads=1)

    rng = np.random.default_rng(3)
    vocab = len(tokenizer)
    # Different lengths, so padding is exercised; the longest source and target fill the model's limits.
    sources = [list(rng.integers(5, vocab, n)) for n in (1, 6, 17, config.max_source_len)]
    targets = [list(rng.integers(5, vocab, n)) for n in (0, 3, 11, config.max_target_len)]
    expected = _keras_log_probs(model, sources, targets)
    pieces = tokenizer.pieces
    results = translator.score_batch(
        [[pieces[i] for i in s] for s in sources], [[pieces[i] for i in t] for t in targets]
    )
    for got, want, target in zip(results, expected, targets, strict=True):
        assert got.tokens == [pieces[i] for i in target] + ["</s>"]
        np.testing.assert_allclose(got.log_probs, want, atol=1e-4)
    assert min(float(w.min()) for w in expected) < -5.0  # the scores compared are far from uniform


def test_export_writes_a_folder_the_engine_loads(tmp_path, tokenizer, tiny_config, random_weights):
    from seq2seq.engine.convert import export, read_config
    from seq2seq.engine.decode import Engine
    from seq2seq.engine.options import EngineOptions
    from seq2seq.text.subword import SubwordTokenizer

    folder = export(tmp_path / "served", tiny_config, random_weights, tokenizer)  # float16 storage
    assert {"model.bin", "config.json", "engine.json", "subword.model", "subword.json"} <= {
        p.name for p in folder.iterdir()
    }
    assert read_config(folder) == tiny_config
    assert SubwordTokenizer.load(folder).pieces == tokenizer.pieces
    engine = Engine(folder, device="cpu")  # the CPU default: int8
    assert engine.compute_type == "int8"
    replies = engine.reply_batch([["hello there"], ["how are you?"]], EngineOptions(strategy="greedy"))
    assert len(replies) == 2 and all(r.strip() for r in replies)


def test_weights_that_do_not_fit_the_spec_are_clear_errors(tokenizer, tiny_config, random_weights):
    from seq2seq.engine.convert import build_spec

    missing = {k: v for k, v in random_weights.items() if k != "decoder_norm/gamma"}
    with pytest.raises(KeyError, match="decoder_norm/gamma"):
        build_spec(tiny_config, missing, tokenizer.pieces)
    extra = {**random_weights, "surprise/kernel": np.zeros((2, 2), np.float32)}
    with pytest.raises(ValueError, match="surprise/kernel"):
        build_spec(tiny_config, extra, tokenizer.pieces)
    with pytest.raises(ValueError, match="vocabulary"):
        build_spec(tiny_config, random_weights, tokenizer.pieces[:-1])
