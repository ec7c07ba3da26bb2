"""Teacher-forced scoring: mean negative log-likelihood and accuracy per reference token."""

from __future__ import annotations

import math

import numpy as np

from seq2seq.text.vocab import PAD_ID
from seq2seq.train.batching import BUCKET, EncodedPairs, eval_batches


def score(model, data: EncodedPairs, batch_size: int = 256, bucket: int = BUCKET) -> dict:
    """NLL per reference token (EOS included, UNK counted as a token), perplexity, token accuracy."""
    total_nll = 0.0
    tokens = correct = 0
    for src, t_in, t_out in eval_batches(data, batch_size, bucket):
        logits = np.asarray(model.predict_on_batch((src, t_in)), dtype=np.float64)  # (B, T, V)
        logits -= logits.max(axis=-1, keepdims=True)
        log_z = np.log(np.exp(logits).sum(axis=-1))  # (B, T)
        picked = np.take_along_axis(logits, t_out[..., None], axis=-1)[..., 0]
        mask = t_out != PAD_ID
        total_nll += float(((log_z - picked) * mask).sum())
        correct += int(((logits.argmax(axis=-1) == t_out) & mask).sum())
        tokens += int(mask.sum())
    nll = total_nll / max(tokens, 1)
    return {
        "nll": nll,
        "perplexity": math.exp(min(nll, 50.0)),
        "token_accuracy": correct / max(tokens, 1),
        "tokens": tokens,
    }


def pair_nlls(model, data: EncodedPairs, batch_size: int = 256, bucket: int = BUCKET) -> np.ndarray:
    """Each pair's total NLL in nats over its target (every token and EOS), in the pairs' order."""
    order = np.argsort([len(t) for t in data.targets], kind="stable")  # similar lengths together: little padding
    out = np.zeros(len(data))
    for start, (src, t_in, t_out) in zip(
        range(0, len(order), batch_size), eval_batches(data, batch_size, bucket), strict=True
    ):
        logits = np.asarray(model.predict_on_batch((src, t_in)), dtype=np.float64)
        logits -= logits.max(axis=-1, keepdims=True)
        log_z = np.log(np.exp(logits).sum(axis=-1))
        picked = np.take_along_axis(logits, t_out[..., None], axis=-1)[..., 0]
        out[order[start : start + batch_size]] = ((log_z - picked) * (t_out != PAD_ID)).sum(axis=1)
    return out
