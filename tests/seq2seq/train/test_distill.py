"""Distillation toward a fine-tune's starting weights: the server's words, the soft targets a real tiny teacher
gives, and the loss they train. A fine-tune that distils (the default) learning a new word end to end:
tests/seq2seq/worker/test_upgrade.py."""

from __future__ import annotations

import dataclasses

import numpy as np
import pytest

from seq2seq.text.vocab import PAD_ID, SEP_ID, SERVER_TAG_ID


@pytest.fixture(scope="module")
def teacher(tokenizer):
    """A tiny Transformer with random weights: a real model whose distributions are far from one-hot."""
    import keras

    from seq2seq.model.presets import preset
    from seq2seq.model.transformer import build

    keras.utils.set_random_seed(7)
    model_cfg, _ = preset("tiny")
    model_cfg = dataclasses.replace(model_cfg, vocab_size=len(tokenizer))
    return build(model_cfg), model_cfg


def batch(tokenizer):
    """Two sources (the second server-tagged), their targets shifted right, padding at the end."""
    src = np.array([[7, 8, 9, SEP_ID, 10], [SERVER_TAG_ID, 7, 8, 9, PAD_ID]], dtype=np.int32)
    t_out = np.array([[11, 12, 13, 3], [11, 14, 3, PAD_ID]], dtype=np.int32)
    t_in = np.concatenate([np.full((2, 1), 2, np.int32), t_out[:, :-1]], axis=1)
    return src, t_in, t_out


def test_untagged_shifts_only_tagged_sources():
    from seq2seq.train.distill import untagged

    src = np.array([[SERVER_TAG_ID, 5, 6, PAD_ID], [5, 6, 7, 8]], dtype=np.int32)
    assert untagged(src).tolist() == [[5, 6, PAD_ID, PAD_ID], [5, 6, 7, 8]]
    assert src[0, 0] == SERVER_TAG_ID  # the batch itself is left alone


def none_learned(vocab_size: int):
    from seq2seq.train.distill import ServerWords

    return ServerWords(np.ones(vocab_size, dtype=bool))


def test_soft_targets_mix_the_gold_piece_with_the_teacher(teacher, tokenizer):
    from seq2seq.train.distill import Distillation, Distiller

    model, cfg = teacher
    src, t_in, t_out = batch(tokenizer)
    distiller = Distiller(model, cfg.vocab_size, Distillation(share=0.4), 0.1, none_learned(cfg.vocab_size))
    soft = distiller.targets(src, t_in, t_out)
    probs = distiller.teacher_probs(src, t_in)

    real = t_out != PAD_ID
    assert soft.shape == (2, 4, cfg.vocab_size)
    np.testing.assert_allclose(soft.sum(-1)[real], 1.0, atol=1e-5)
    assert not soft[~real].any()  # padding has no target, so the loss skips it
    gold = np.take_along_axis(soft, t_out[..., None], axis=-1)[..., 0]
    teacher_gold = np.take_along_axis(probs, t_out[..., None], axis=-1)[..., 0]
    expected = 0.6 * (0.9 + 0.1 / cfg.vocab_size) + 0.4 * teacher_gold
    np.testing.assert_allclose(gold[real], expected[real], rtol=1e-4)
    # Away from the gold piece the target is the teacher's distribution (plus smoothing), not zero.
    other = (t_out[0, 0] + 1) % cfg.vocab_size
    assert soft[0, 0, other] == pytest.approx(0.6 * 0.1 / cfg.vocab_size + 0.4 * probs[0, 0, other], rel=1e-4)


def test_the_teacher_reads_a_tagged_source_untagged_unless_it_was_tagged_itself(teacher, tokenizer):
    from seq2seq.train.distill import Distillation, Distiller, untagged

    model, cfg = teacher
    src, t_in, _ = batch(tokenizer)
    words = none_learned(cfg.vocab_size)
    base = Distiller(model, cfg.vocab_size, Distillation(0.5), 0.0, words)
    served = Distiller(model, cfg.vocab_size, Distillation(0.5, reads_tag=True), 0.0, words)
    np.testing.assert_allclose(base.teacher_probs(src, t_in), served.teacher_probs(untagged(src), t_in), atol=1e-6)
    assert not np.allclose(base.teacher_probs(src, t_in)[1], served.teacher_probs(src, t_in)[1], atol=1e-4)


def encoded(tokenizer, texts):
    from seq2seq.text.vocab import EOS_ID

    return [np.array(tokenizer.encode(t) + [EOS_ID], dtype=np.int32) for t in texts]


def test_server_words_are_the_words_far_more_common_in_the_log_than_in_the_base(tokenizer):
    from seq2seq.train.distill import ServerWords, word_openings

    log = [f"glorpy! that {w} was zephyrine's idea" for w in ("game", "show", "movie", "song", "book", "band")]
    base = [
        f"that {w} was my friend's idea! the best one" for w in ("game", "show", "movie", "song", "book", "band")
    ] * 5
    words = ServerWords.find(word_openings(tokenizer.pieces), encoded(tokenizer, log), encoded(tokenizer, base))
    found = sorted(tokenizer.decode(w) for w in words.words)
    assert "glorpy" in found and "zephyrine" in found  # six times in the log, never in the base
    assert found == ["glorpy", "zephyrine"]  # the rest is in the base too
    assert len(tokenizer.encode("glorpy")) > 1  # a word of several pieces, every one of them learned

    t_out = np.stack([encoded(tokenizer, ["glorpy! that was it"])[0]])
    marked = [tokenizer.sp.id_to_piece(int(i)) for i in t_out[0][words.positions(t_out)[0]]]
    assert tokenizer.decode(tokenizer.sp.piece_to_id(p) for p in marked) == "glorpy"


def test_a_server_word_is_learned_from_the_log_alone(teacher, tokenizer):
    from seq2seq.train.distill import Distillation, Distiller, ServerWords, word_openings

    model, cfg = teacher
    words = ServerWords(word_openings(tokenizer.pieces), frozenset({tuple(tokenizer.encode("glorpy"))}))
    t_out = np.stack([encoded(tokenizer, ["so glorpy"])[0]])
    t_in = np.concatenate([np.full((1, 1), 2, np.int32), t_out[:, :-1]], axis=1)
    src = np.array([[7, 8, 9]], dtype=np.int32)
    soft = Distiller(model, cfg.vocab_size, Distillation(0.5), 0.0, words).targets(src, t_in, t_out)
    gold = np.take_along_axis(soft, t_out[..., None], axis=-1)[0, :, 0]
    inside = words.positions(t_out)[0]
    assert inside.sum() == len(tokenizer.encode("glorpy"))
    np.testing.assert_allclose(gold[inside], 1.0, atol=1e-6)  # the gold piece alone
    assert (gold[~inside] < 0.6).all()  # elsewhere half the target is the teacher's (random weights: spread out)


def test_soft_loss_with_hard_targets_is_the_training_loss(teacher, tokenizer):
    from seq2seq.model.transformer import smoothed_loss
    from seq2seq.train.distill import soft_loss

    model, cfg = teacher
    src, t_in, t_out = batch(tokenizer)
    logits = model.predict_on_batch((src, t_in))
    hard = np.full(logits.shape, 0.1 / cfg.vocab_size, np.float32)
    np.put_along_axis(hard, t_out[..., None], 0.9 + 0.1 / cfg.vocab_size, axis=-1)
    hard *= (t_out != PAD_ID)[..., None]
    assert float(soft_loss(hard, logits)) == pytest.approx(float(smoothed_loss(0.1)(t_out, logits)), rel=1e-5)


def test_a_share_outside_0_1_is_refused(teacher):
    from seq2seq.train.distill import Distillation, Distiller

    model, cfg = teacher
    for share in (0.0, 1.0):
        with pytest.raises(ValueError, match="share"):
            Distiller(model, cfg.vocab_size, Distillation(share), 0.1, none_learned(cfg.vocab_size))
