"""The one place that turns trained Keras weights into the serving model: a CTranslate2 spec plus its tokenizer.

The weights are the `seq2seq.model.transformer` model's arrays by variable path (`model_dir.weights_of`); Keras
kernels are (in, out), CTranslate2's linear weights (out, in). The conventions are checked by
`tests/seq2seq/engine/test_convert.py` (the engine's scores equal the Keras forward pass).
"""

from __future__ import annotations

import json
import os
from collections.abc import Mapping, Sequence
from pathlib import Path

import numpy as np
from ctranslate2.specs import common_spec, transformer_spec

from seq2seq.model.config import TransformerConfig
from seq2seq.text.subword import SubwordTokenizer

CONFIG_FILE = "engine.json"  # the transformer's settings: the engine builds sources with them
FORMAT = 1
EPSILON = 1e-6  # the layer norms' ε, as `seq2seq.model.transformer` trains them
_ACTIVATIONS = {"relu": common_spec.Activation.RELU, "gelu": common_spec.Activation.GELU}


def build_spec(
    config: TransformerConfig, weights: Mapping[str, np.ndarray], vocabulary: Sequence[str]
) -> transformer_spec.TransformerSpec:
    """A validated TransformerSpec holding `weights`; `vocabulary` is every piece by id."""
    if len(vocabulary) != config.vocab_size:
        raise ValueError(f"vocabulary has {len(vocabulary)} pieces, the model {config.vocab_size}")
    w = _Weights(weights)
    spec = transformer_spec.TransformerSpec.from_config(
        (config.encoder_layers, config.decoder_layers),
        config.heads,
        pre_norm=True,
        activation=_ACTIVATIONS[config.activation],
    )
    spec.config.layer_norm_epsilon = EPSILON
    embeddings = w["embedding/embeddings"]  # (V, D): source, target and output share it
    positions = w["positions"]  # (P, D)

    encoder = spec.encoder
    encoder.embeddings[0].weight = embeddings
    encoder.scale_embeddings = True  # × √D before the positions are added
    encoder.position_encodings.encodings = positions
    for i, layer in enumerate(encoder.layer):
        prefix = f"encoder_{i}"
        _norm(layer.self_attention.layer_norm, w, f"{prefix}/attention_norm")
        _linear(layer.self_attention.linear[0], w, f"{prefix}/attention/qkv")  # (3D, D): q, k, v rows
        _linear(layer.self_attention.linear[1], w, f"{prefix}/attention/out")
        _ffn(layer.ffn, w, prefix)
    _norm(encoder.layer_norm, w, "encoder_norm")

    decoder = spec.decoder
    decoder.embeddings.weight = embeddings
    decoder.scale_embeddings = True
    decoder.position_encodings.encodings = positions
    for i, layer in enumerate(decoder.layer):
        prefix = f"decoder_{i}"
        _norm(layer.self_attention.layer_norm, w, f"{prefix}/self_attention_norm")
        _linear(layer.self_attention.linear[0], w, f"{prefix}/self_attention/qkv")
        _linear(layer.self_attention.linear[1], w, f"{prefix}/self_attention/out")
        _norm(layer.attention.layer_norm, w, f"{prefix}/cross_attention_norm")
        _linear(layer.attention.linear[0], w, f"{prefix}/cross_attention/query")
        _linear(layer.attention.linear[1], w, f"{prefix}/cross_attention/key_value")  # (2D, D): k, v rows
        _linear(layer.attention.linear[2], w, f"{prefix}/cross_attention/out")
        _ffn(layer.ffn, w, prefix)
    _norm(decoder.layer_norm, w, "decoder_norm")
    decoder.projection.weight = embeddings
    decoder.projection.bias = w["out_bias"]

    spec.register_source_vocabulary(list(vocabulary))
    spec.register_target_vocabulary(list(vocabulary))
    spec.validate()
    w.check_all_used()
    return spec


def export(
    folder: Path | str,
    config: TransformerConfig,
    weights: Mapping[str, np.ndarray],
    tokenizer: SubwordTokenizer,
    quantization: str | None = "float16",
) -> Path:
    """Write the serving model to `folder`: CTranslate2's files, the tokenizer and `engine.json`.

    float16 storage halves the folder; the engine converts at load time (int8 on a CPU, float16 on
    CUDA). `quantization=None` keeps float32, for exact comparisons.
    """
    folder = Path(folder)
    folder.mkdir(parents=True, exist_ok=True)
    spec = build_spec(config, weights, tokenizer.pieces)
    spec.optimize(quantization=quantization)  # also stores the tied matrices once
    spec.save(str(folder))
    tokenizer.save(folder)
    tmp = folder / (CONFIG_FILE + ".tmp")
    tmp.write_text(json.dumps({"format": FORMAT, "transformer": config.to_dict()}, indent=2) + "\n")
    os.replace(tmp, folder / CONFIG_FILE)
    return folder


def read_config(folder: Path | str) -> TransformerConfig:
    file = Path(folder) / CONFIG_FILE
    data = json.loads(file.read_text(encoding="utf-8"))
    if data.get("format") != FORMAT:
        raise ValueError(f"{file}: unknown format {data.get('format')!r}")
    return TransformerConfig.from_dict(data["transformer"])


class _Weights:
    """Arrays by variable path, as float32; remembers which were used, so none is silently left out."""

    def __init__(self, weights: Mapping[str, np.ndarray]):
        self.weights = weights
        self.used: set[str] = set()

    def __getitem__(self, key: str) -> np.ndarray:
        if key not in self.weights:
            raise KeyError(f"the weights have no {key!r}: not a seq2seq.model.transformer model?")
        self.used.add(key)
        return np.ascontiguousarray(self.weights[key], dtype=np.float32)

    def check_all_used(self) -> None:
        left = sorted(set(self.weights) - self.used)
        if left:
            raise ValueError(f"weights the spec has no place for: {', '.join(left)}")


def _linear(spec: common_spec.LinearSpec, w: _Weights, prefix: str) -> None:
    spec.weight = np.ascontiguousarray(w[f"{prefix}/kernel"].T)  # Keras (in, out) → (out, in)
    spec.bias = w[f"{prefix}/bias"]


def _norm(spec: common_spec.LayerNormSpec, w: _Weights, prefix: str) -> None:
    spec.gamma = w[f"{prefix}/gamma"]
    spec.beta = w[f"{prefix}/beta"]


def _ffn(spec, w: _Weights, prefix: str) -> None:
    _norm(spec.layer_norm, w, f"{prefix}/ffn_norm")
    _linear(spec.linear_0, w, f"{prefix}/ffn/inner")
    _linear(spec.linear_1, w, f"{prefix}/ffn/outer")
