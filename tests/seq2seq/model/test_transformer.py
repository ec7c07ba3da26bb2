"""The v2 network: causal decoder, padding ignored, one tied embedding matrix, the smoothed loss as written."""

from __future__ import annotations

import numpy as np
import pytest

from seq2seq.model.config import TransformerConfig


@pytest.fixture(scope="module")
def model(tiny_config, random_weights):
    from seq2seq.model.transformer import build
    from seq2seq.model_dir import assign_weights

    model = build(tiny_config)
    assign_weights(model, random_weights)
    return model


def _logits(model, source, target_in):
    return np.asarray(model.predict_on_batch((np.array(source, np.int32), np.array(target_in, np.int32))))


def test_a_later_target_token_never_changes_an_earlier_prediction(model):
    source = [[10, 11, 12, 13]]
    a = _logits(model, source, [[2, 20, 21, 22, 23]])
    b = _logits(model, source, [[2, 20, 21, 99, 98]])
    np.testing.assert_allclose(a[:, :3], b[:, :3], atol=1e-5)
    assert np.abs(a[:, 3:] - b[:, 3:]).max() > 1e-3  # and the later ones do change


def test_source_padding_changes_nothing(model):
    target = [[2, 20, 21]]
    a = _logits(model, [[10, 11, 12]], target)
    b = _logits(model, [[10, 11, 12, 0, 0, 0, 0, 0]], target)
    np.testing.assert_allclose(a, b, atol=1e-5)
    c = _logits(model, [[10, 11, 13]], target)
    assert np.abs(a - c).max() > 1e-3  # while a real source token does


def test_source_target_and_output_share_one_embedding_matrix(model, tiny_config):
    names = [v.path for v in model.weights]
    assert sum("embedding" in n for n in names) == 1
    embeddings = model.embedding.embeddings
    assert tuple(embeddings.shape) == (tiny_config.vocab_size, tiny_config.dim)
    assert not any(tuple(v.shape) == (tiny_config.dim, tiny_config.vocab_size) for v in model.weights)


def test_smoothed_loss_is_the_formula_over_non_padding_tokens():
    from keras import ops

    from seq2seq.model.transformer import smoothed_loss

    rng = np.random.default_rng(0)
    logits = rng.normal(size=(2, 3, 7)).astype(np.float32)
    target = np.array([[4, 5, 0], [6, 0, 0]])
    got = float(ops.convert_to_numpy(smoothed_loss(0.1)(target, logits)))
    log_probs = logits - np.log(np.exp(logits).sum(-1, keepdims=True))
    expected = []
    for b, t in [(0, 0), (0, 1), (1, 0)]:
        expected.append(0.9 * -log_probs[b, t, target[b, t]] + 0.1 * -log_probs[b, t].mean())
    assert got == pytest.approx(np.mean(expected), rel=1e-5)


def test_config_rejects_what_cannot_convert():
    with pytest.raises(ValueError, match="multiple of heads"):
        TransformerConfig(dim=30, heads=4)
    with pytest.raises(ValueError, match="activation"):
        TransformerConfig(activation="swish")
    with pytest.raises(ValueError, match="positions"):
        TransformerConfig(positions=16, max_source_len=64)
    config = TransformerConfig(dim=64, heads=2)
    assert TransformerConfig.from_dict(config.to_dict()) == config
