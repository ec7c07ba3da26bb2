"""v1's network, its forward pass in NumPy, for decoding on the CPU without a framework call per step.

It reads the weights of `model.Seq2Seq` and reproduces its arithmetic exactly (a test compares the two);
at batch 1 a decode step is a few small matrix products, where a framework call costs more than the maths.
"""

from __future__ import annotations

import numpy as np

from seq2seq.model.config import LSTMConfig


def _mm(x: np.ndarray, w: np.ndarray) -> np.ndarray:
    """x (..., n) @ w (n, m) as ONE 2-D GEMM: NumPy runs a 3-D @ 2-D product as a loop of small ones (5x slower)."""
    return (x.reshape(-1, x.shape[-1]) @ w).reshape(*x.shape[:-1], w.shape[-1])


def _sigmoid(x: np.ndarray) -> np.ndarray:
    return 0.5 * (np.tanh(0.5 * x) + 1.0)  # overflow-free, same values as the logistic function


class Cell:
    """One LSTM or GRU cell in Keras 3's gate layout (LSTM: i, f, c, o; GRU reset_after: z, r, h)."""

    def __init__(self, weights: dict[str, np.ndarray], prefix: str, kind: str):
        name = "lstm_cell" if kind == "lstm" else "gru_cell"
        self.kind = kind
        self.kernel = weights[f"{prefix}/{name}/kernel"]
        self.recurrent = weights[f"{prefix}/{name}/recurrent_kernel"]
        self.bias = weights[f"{prefix}/{name}/bias"]
        self.units = self.recurrent.shape[0]

    def input_part(self, x: np.ndarray) -> np.ndarray:
        """x (..., in) → its share of the gates; done for a whole sequence at once."""
        bias = self.bias if self.kind == "lstm" else self.bias[0]
        return _mm(x, self.kernel) + bias

    def step(self, x_part: np.ndarray, state: tuple[np.ndarray, ...]) -> tuple[np.ndarray, ...]:
        h = state[0]
        if self.kind == "lstm":
            z = x_part + _mm(h, self.recurrent)
            i, f, g, o = np.split(z, 4, axis=-1)
            c = _sigmoid(f) * state[1] + _sigmoid(i) * np.tanh(g)
            return _sigmoid(o) * np.tanh(c), c
        x_z, x_r, x_h = np.split(x_part, 3, axis=-1)
        h_z, h_r, h_h = np.split(_mm(h, self.recurrent) + self.bias[1], 3, axis=-1)
        z, r = _sigmoid(x_z + h_z), _sigmoid(x_r + h_r)
        return (z * h + (1.0 - z) * np.tanh(x_h + r * h_h),)

    def zero_state(self, batch: int) -> tuple[np.ndarray, ...]:
        zeros = np.zeros((batch, self.units), dtype=np.float32)
        return (zeros, zeros.copy()) if self.kind == "lstm" else (zeros,)


class NumpySeq2Seq:
    """encode() then step(): the decoding half of `search.py`'s step-function contract."""

    def __init__(self, config: LSTMConfig, weights: dict[str, np.ndarray]):
        self.config = config
        w = {k: np.ascontiguousarray(v, dtype=np.float32) for k, v in weights.items()}
        self.embeddings = w["embedding/embeddings"]  # (V, E)
        self.out_kernel = np.ascontiguousarray(self.embeddings.T)  # tied output projection (E, V)
        self.out_bias = w["out_bias"]
        self.encoders = []
        for i in range(config.encoder_layers):
            if config.bidirectional:
                base = f"encoder_{i}_bi"
                self.encoders.append(
                    (
                        Cell(w, f"{base}/forward_encoder_{i}", config.cell),
                        Cell(w, f"{base}/backward_encoder_{i}", config.cell),
                    )
                )
            else:
                self.encoders.append((Cell(w, f"encoder_{i}", config.cell), None))
        self.decoders = [Cell(w, f"decoder_{i}", config.cell) for i in range(config.decoder_layers)]
        self.attn_w = w["attn_w/kernel"]
        if config.attention == "bahdanau":
            self.attn_u, self.attn_u_bias = w["attn_u/kernel"], w["attn_u/bias"]
            self.attn_v = w["attn_v/kernel"][:, 0]
        self.combine_kernel, self.combine_bias = w["combine/kernel"], w["combine/bias"]

    def encode(self, source: np.ndarray) -> tuple[tuple, tuple]:
        """source (B, S) ids → (decoder states per layer, (memory (B,S,U), keys, mask (B,S)))."""
        mask = source != 0
        x = self.embeddings[source]  # (B, S, E)
        final: tuple = ()
        for forward, backward in self.encoders:
            out_f, st_f = _run(forward, x, mask, reverse=False)
            if backward is None:
                x, final = out_f, st_f
                continue
            out_b, st_b = _run(backward, x, mask, reverse=True)
            x = np.concatenate([out_f, out_b], axis=-1)
            final = tuple(np.concatenate([a, b], axis=-1) for a, b in zip(st_f, st_b, strict=False))
        states = tuple(s for _ in self.decoders for s in final)  # every decoder layer starts there
        if self.config.attention == "luong":
            keys = _mm(x, self.attn_w.T)  # score(q, m) = (q W) · m = q · (m Wᵀ): precompute m Wᵀ
        else:
            keys = _mm(x, self.attn_u) + self.attn_u_bias
        return states, (x, keys, mask)

    def initial_beams(self, states: tuple, k: int) -> tuple:
        """Decoder states (B, U) → beam states (B, K, U)."""
        return tuple(np.repeat(s[:, None, :], k, axis=1) for s in states)

    def step(self, tokens: np.ndarray, beam_state: tuple, item_state: tuple):
        """tokens (B, K) → log-probabilities (B, K, V) of the next token, new beam states."""
        memory, keys, mask = item_state
        y = self.embeddings[tokens]  # (B, K, E)
        per = 2 if self.config.cell == "lstm" else 1
        new_state = []
        for i, cell in enumerate(self.decoders):
            state = tuple(beam_state[i * per : (i + 1) * per])
            state = cell.step(cell.input_part(y), state)
            new_state.extend(state)
            y = state[0]  # (B, K, U)
        if self.config.attention == "luong":
            scores = y @ keys.transpose(0, 2, 1)  # (B, K, S)
        else:
            scores = np.tanh(_mm(y, self.attn_w)[:, :, None, :] + keys[:, None, :, :]) @ self.attn_v
        scores = np.where(mask[:, None, :], scores, -1e9)
        scores = np.exp(scores - scores.max(axis=-1, keepdims=True))
        weights = scores / scores.sum(axis=-1, keepdims=True)
        context = weights @ memory  # (B, K, U)
        h = np.tanh(_mm(np.concatenate([context, y], axis=-1), self.combine_kernel) + self.combine_bias)
        logits = _mm(h, self.out_kernel) + self.out_bias  # (B, K, V)
        logits = logits - logits.max(axis=-1, keepdims=True)
        log_probs = logits - np.log(np.exp(logits).sum(axis=-1, keepdims=True))
        return log_probs, tuple(new_state)


def _run(cell: Cell, x: np.ndarray, mask: np.ndarray, reverse: bool):
    """A masked RNN pass: padded steps keep the state, as Keras does."""
    batch, length = mask.shape
    x_part = cell.input_part(x)  # (B, S, gates)
    state = cell.zero_state(batch)
    outputs = np.zeros((batch, length, cell.units), dtype=np.float32)
    steps = range(length - 1, -1, -1) if reverse else range(length)
    for t in steps:
        new = cell.step(x_part[:, t], state)
        keep = mask[:, t, None]
        state = tuple(np.where(keep, n, o) for n, o in zip(new, state, strict=False))
        outputs[:, t] = state[0]
    return outputs, state
