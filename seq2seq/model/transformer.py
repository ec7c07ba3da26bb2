"""Model v2's network: a pre-norm Transformer encoder-decoder in Keras 3, laid out as CTranslate2 computes it.

B = batch, S = source length, T = target length, D = width, H = heads, K = D / H, V = vocabulary.
What makes it convert exactly (`seq2seq.engine.convert`): one embedding matrix (V, D) embeds source and
target and is the output projection; embeddings are scaled by √D before the sinusoidal positions are
added; every sub-layer reads a layer norm of its input (ε = 1e-6) and adds its output to it; each stack
ends with its own layer norm; self-attention keeps q, k, v in one fused projection, cross-attention q
and one fused k, v projection, as CTranslate2 stores them.
"""

from __future__ import annotations

import math

import keras
import numpy as np
from keras import layers, ops

# The one import from the repo: a stdlib dataclass, so the converter and engine read configs without Keras.
from seq2seq.model.config import PAD_ID, TransformerConfig

EPSILON = 1e-6  # CTranslate2's layer-norm ε; Keras' default 1e-3 moves scores by 1e-4 already
NEG = -1e9


def sinusoidal_positions(length: int, dim: int) -> np.ndarray:
    """(length, dim): sin in the first half of each row, cos in the second (Tensor2Tensor's layout)."""
    half = dim // 2
    rates = np.exp(-math.log(10000.0) * np.arange(half) / max(half - 1, 1))
    angles = np.arange(length)[:, None] * rates[None, :]
    return np.concatenate([np.sin(angles), np.cos(angles)], axis=1).astype(np.float32)


def _dense(units: int, name: str, std: float = 0.02, activation=None) -> layers.Dense:
    return layers.Dense(
        units, activation=activation, kernel_initializer=keras.initializers.RandomNormal(0.0, std), name=name
    )


class Attention(layers.Layer):
    """Multi-head attention; `cross=True` attends to the encoder's memory instead of its own input."""

    def __init__(self, config: TransformerConfig, cross: bool, out_std: float, **kwargs):
        super().__init__(**kwargs)
        self.heads, self.head_dim, self.dim = config.heads, config.head_dim, config.dim
        self.cross = cross
        if cross:
            self.query = _dense(config.dim, "query")
            self.key_value = _dense(2 * config.dim, "key_value")  # k then v
        else:
            self.qkv = _dense(3 * config.dim, "qkv")  # q, k, v side by side
        self.out = _dense(config.dim, "out", out_std)

    def call(self, x, mask, memory=None):
        """x (B, T, D), memory (B, S, D), mask broadcastable to (B, H, T, S) with True where allowed."""
        if self.cross:
            q = self.query(x)
            k, v = ops.split(self.key_value(memory), 2, axis=-1)
        else:
            q, k, v = ops.split(self.qkv(x), 3, axis=-1)
        q, k, v = self._split_heads(q), self._split_heads(k), self._split_heads(v)  # (B, H, T|S, K)
        scores = ops.matmul(q, ops.transpose(k, (0, 1, 3, 2))) / math.sqrt(self.head_dim)  # (B, H, T, S)
        scores = ops.where(mask, scores, ops.full_like(scores, NEG))
        context = ops.matmul(ops.softmax(scores, axis=-1), v)  # (B, H, T, K)
        context = ops.transpose(context, (0, 2, 1, 3))  # (B, T, H, K)
        return self.out(ops.reshape(context, (ops.shape(x)[0], -1, self.dim)))  # (B, T, D)

    def _split_heads(self, x):
        """(B, L, D) → (B, H, L, K): head h owns columns h·K … (h+1)·K - 1, as in CTranslate2."""
        x = ops.reshape(x, (ops.shape(x)[0], -1, self.heads, self.head_dim))
        return ops.transpose(x, (0, 2, 1, 3))


class FeedForward(layers.Layer):
    def __init__(self, config: TransformerConfig, out_std: float, **kwargs):
        super().__init__(**kwargs)
        self.inner = _dense(config.ffn_dim, "inner", activation=config.activation)  # gelu: the exact (erf) form
        self.outer = _dense(config.dim, "outer", out_std)

    def call(self, x):
        return self.outer(self.inner(x))  # (B, L, D) → (B, L, F) → (B, L, D)


def _norm(name: str) -> layers.LayerNormalization:
    return layers.LayerNormalization(epsilon=EPSILON, name=name)


class EncoderLayer(layers.Layer):
    def __init__(self, config: TransformerConfig, out_std: float, **kwargs):
        super().__init__(**kwargs)
        self.attention_norm = _norm("attention_norm")
        self.attention = Attention(config, cross=False, out_std=out_std, name="attention")
        self.ffn_norm = _norm("ffn_norm")
        self.ffn = FeedForward(config, out_std, name="ffn")
        self.drop = layers.Dropout(config.dropout)

    def call(self, x, mask, training=False):
        x = x + self.drop(self.attention(self.attention_norm(x), mask), training=training)
        return x + self.drop(self.ffn(self.ffn_norm(x)), training=training)


class DecoderLayer(layers.Layer):
    def __init__(self, config: TransformerConfig, out_std: float, **kwargs):
        super().__init__(**kwargs)
        self.self_attention_norm = _norm("self_attention_norm")
        self.self_attention = Attention(config, cross=False, out_std=out_std, name="self_attention")
        self.cross_attention_norm = _norm("cross_attention_norm")
        self.cross_attention = Attention(config, cross=True, out_std=out_std, name="cross_attention")
        self.ffn_norm = _norm("ffn_norm")
        self.ffn = FeedForward(config, out_std, name="ffn")
        self.drop = layers.Dropout(config.dropout)

    def call(self, y, memory, causal_mask, source_mask, training=False):
        y = y + self.drop(self.self_attention(self.self_attention_norm(y), causal_mask), training=training)
        y = y + self.drop(
            self.cross_attention(self.cross_attention_norm(y), source_mask, memory=memory), training=training
        )
        return y + self.drop(self.ffn(self.ffn_norm(y)), training=training)


class Transformer(keras.Model):
    """(source (B, S), target_in (B, T)) → next-token logits (B, T, V); padding id 0 is never attended to."""

    def __init__(self, config: TransformerConfig, **kwargs):
        super().__init__(**kwargs)
        self.config = config
        # GPT-2's scaled init: each residual branch's output starts small, so a deep stack starts near identity.
        out_std = 0.02 / math.sqrt(2 * (config.encoder_layers + config.decoder_layers))
        # N(0, 1/D), scaled by √D on input: unit-variance inputs and unit-scale tied output logits.
        self.embedding = layers.Embedding(
            config.vocab_size,
            config.dim,
            embeddings_initializer=keras.initializers.RandomNormal(0.0, config.dim**-0.5),
            name="embedding",
        )
        self.positions = self.add_weight(
            shape=(config.positions, config.dim), initializer="zeros", trainable=False, name="positions"
        )
        self.positions.assign(sinusoidal_positions(config.positions, config.dim))
        self.encoder_layers = [EncoderLayer(config, out_std, name=f"encoder_{i}") for i in range(config.encoder_layers)]
        self.encoder_norm = _norm("encoder_norm")
        self.decoder_layers = [DecoderLayer(config, out_std, name=f"decoder_{i}") for i in range(config.decoder_layers)]
        self.decoder_norm = _norm("decoder_norm")
        self.out_bias = self.add_weight(shape=(config.vocab_size,), initializer="zeros", name="out_bias")
        self.drop = layers.Dropout(config.dropout)

    def embed(self, ids, training=False):
        """ids (B, L) → (B, L, D): E[ids] · √D + positions[0 … L-1]."""
        length = ops.shape(ids)[1]
        x = self.embedding(ids) * math.sqrt(self.config.dim) + self.positions[:length][None, :, :]
        return self.drop(x, training=training)

    def encode(self, source, training=False):
        """source (B, S) → memory (B, S, D), source_mask (B, 1, 1, S)."""
        source_mask = ops.not_equal(source, PAD_ID)[:, None, None, :]
        x = self.embed(source, training)
        for layer in self.encoder_layers:
            x = layer(x, source_mask, training=training)
        return self.encoder_norm(x), source_mask

    def decode(self, target_in, memory, source_mask, training=False):
        """target_in (B, T) starting with BOS → logits (B, T, V) of each next token."""
        length = ops.shape(target_in)[1]
        positions = ops.arange(length)
        causal_mask = (positions[None, :] <= positions[:, None])[None, None, :, :]  # (1, 1, T, T)
        y = self.embed(target_in, training)
        for layer in self.decoder_layers:
            y = layer(y, memory, causal_mask, source_mask, training=training)
        y = self.decoder_norm(y)
        return ops.matmul(y, ops.transpose(self.embedding.embeddings)) + self.out_bias  # tied projection

    def call(self, inputs, training=False):
        source, target_in = inputs
        memory, source_mask = self.encode(source, training)
        return self.decode(target_in, memory, source_mask, training)


def build(config: TransformerConfig) -> Transformer:
    model = Transformer(config, name="transformer")
    model((ops.ones((1, 3), dtype="int32"), ops.ones((1, 2), dtype="int32")))  # create the weights
    return model


def smoothed_loss(label_smoothing: float):
    """Cross-entropy per non-padding target token, with label smoothing ε spread over the vocabulary."""

    def loss(target_out, logits):  # (B, T) ids, (B, T, V)
        log_probs = ops.log_softmax(ops.cast(logits, "float32"), axis=-1)
        target = ops.cast(target_out, "int32")
        nll = -ops.take_along_axis(log_probs, target[..., None], axis=-1)[..., 0]  # (B, T)
        uniform = -ops.mean(log_probs, axis=-1)  # (B, T): cross-entropy with the uniform distribution
        per_token = (1.0 - label_smoothing) * nll + label_smoothing * uniform
        mask = ops.cast(ops.not_equal(target, PAD_ID), "float32")
        return ops.sum(per_token * mask) / ops.maximum(ops.sum(mask), 1.0)

    return loss
