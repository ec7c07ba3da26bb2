"""The encoder-decoder RNN with attention (model v1's network; now trained on subword pieces to compare with the
Transformer), in backend-neutral Keras 3."""

from __future__ import annotations

import keras
from keras import layers, ops

# The one import from the repo: a stdlib dataclass, so configs are read without Keras.
from seq2seq.model.config import PAD_ID, LSTMConfig


def _rnn(config: LSTMConfig, units: int, name: str, **kwargs) -> layers.Layer:
    cls = layers.LSTM if config.cell == "lstm" else layers.GRU
    return cls(units, return_sequences=True, return_state=True, name=name, **kwargs)


class Seq2Seq(keras.Model):
    """Teacher-forced training graph (the benchmarks' v1 baseline decodes the same weights in NumPy)."""

    def __init__(self, config: LSTMConfig, **kwargs):
        super().__init__(**kwargs)
        if config.cell not in ("lstm", "gru") or config.attention not in ("luong", "bahdanau"):
            raise ValueError(f"unsupported cell/attention: {config.cell}/{config.attention}")
        self.config = config
        # Normal embeddings learn much faster than Keras' uniform default on this task.
        self.embedding = layers.Embedding(
            config.vocab_size,
            config.embed_dim,
            embeddings_initializer=keras.initializers.RandomNormal(0.0, config.embed_init_std),
            name="embedding",
        )
        enc_units = config.units // 2 if config.bidirectional else config.units
        self.encoders = []
        for i in range(config.encoder_layers):
            rnn = _rnn(config, enc_units, f"encoder_{i}")
            if config.bidirectional:
                rnn = layers.Bidirectional(rnn, name=f"encoder_{i}_bi")
            self.encoders.append(rnn)
        self.decoders = [_rnn(config, config.units, f"decoder_{i}") for i in range(config.decoder_layers)]
        self.attn_w = layers.Dense(config.units, use_bias=False, name="attn_w")  # Luong's W, Bahdanau's W_q
        if config.attention == "bahdanau":
            self.attn_u = layers.Dense(config.units, use_bias=True, name="attn_u")
            self.attn_v = layers.Dense(1, use_bias=False, name="attn_v")
        self.combine = layers.Dense(config.embed_dim, activation="tanh", name="combine")
        self.out_bias = self.add_weight(shape=(config.vocab_size,), initializer="zeros", name="out_bias")
        self.drop = layers.Dropout(config.dropout)

    def encode(self, source, training=False):
        """source (B, S) ids → memory (B, S, U), mask (B, S), decoder initial states."""
        mask = ops.not_equal(source, PAD_ID)
        x = self.drop(self.embedding(source), training=training)  # (B, S, E)
        states = []
        for i, rnn in enumerate(self.encoders):
            out = rnn(x, mask=mask, training=training)
            x, st = out[0], out[1:]
            if i == len(self.encoders) - 1:
                states = _merge_directions(st, self.config)
        return x, mask, states

    def call(self, inputs, training=False):
        source, target_in = inputs  # (B, S), (B, T)
        memory, src_mask, state = self.encode(source, training=training)
        y = self.drop(self.embedding(target_in), training=training)  # (B, T, E)
        tgt_mask = ops.not_equal(target_in, PAD_ID)
        for rnn in self.decoders:
            # Every decoder layer starts from the encoder's final state.
            out = rnn(y, initial_state=state, mask=tgt_mask, training=training)
            y = out[0]  # (B, T, U)
        context = self.attend(y, memory, src_mask)  # (B, T, U)
        h = self.combine(ops.concatenate([context, y], axis=-1))  # (B, T, E)
        h = self.drop(h, training=training)
        # Tied output embedding: logits = h · Eᵀ + b, (B, T, V)
        return ops.matmul(h, ops.transpose(self.embedding.embeddings)) + self.out_bias

    def attend(self, queries, memory, src_mask):
        """queries (B, T, U), memory (B, S, U) → context (B, T, U)."""
        if self.config.attention == "luong":
            scores = ops.matmul(self.attn_w(queries), ops.transpose(memory, (0, 2, 1)))  # (B, T, S)
        else:
            keys = self.attn_u(memory)[:, None, :, :]  # (B, 1, S, U)
            scores = self.attn_v(ops.tanh(self.attn_w(queries)[:, :, None, :] + keys))[..., 0]  # (B, T, S)
        scores = ops.where(src_mask[:, None, :], scores, ops.full_like(scores, -1e9))
        weights = ops.softmax(scores, axis=-1)
        return ops.matmul(weights, memory)


def _merge_directions(states, config: LSTMConfig):
    """Final encoder states → decoder initial states (forward and backward concatenated)."""
    states = list(states)
    if not config.bidirectional:
        return states
    half = len(states) // 2  # Bidirectional returns forward states then backward states
    return [ops.concatenate([f, b], axis=-1) for f, b in zip(states[:half], states[half:], strict=False)]


def build(config: LSTMConfig) -> Seq2Seq:
    model = Seq2Seq(config, name="seq2seq")
    model((ops.ones((1, 3), dtype="int32"), ops.ones((1, 2), dtype="int32")))  # create the weights
    return model
