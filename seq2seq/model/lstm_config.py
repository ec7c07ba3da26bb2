"""The reply model's architecture settings (stdlib only: read without importing Keras)."""

from __future__ import annotations

from dataclasses import asdict, dataclass, fields

PAD_ID = 0  # must match the vocabulary's padding id


@dataclass(frozen=True)
class ModelConfig:
    vocab_size: int = 8005
    embed_dim: int = 256  # also the output projection's width: input and output embeddings are tied
    units: int = 256  # decoder units; a bidirectional encoder has units // 2 per direction
    cell: str = "lstm"  # "lstm" or "gru"
    encoder_layers: int = 1
    decoder_layers: int = 1
    bidirectional: bool = True
    attention: str = "luong"  # "luong" (general) or "bahdanau" (additive)
    dropout: float = 0.2
    max_source_len: int = 32  # query tokens (plus the previous turn), cut from the left
    max_target_len: int = 20  # reply tokens before EOS, cut from the right
    context_turns: int = 1  # previous turns fed to the encoder before the query
    embed_init_std: float = 0.1  # small: with tied output embeddings, N(0, 1) starts with huge logits

    def to_dict(self) -> dict:
        return asdict(self)

    @classmethod
    def from_dict(cls, data: dict) -> ModelConfig:
        known = {f.name for f in fields(cls)}
        unknown = set(data) - known
        if unknown:
            raise ValueError(f"unknown model config keys: {sorted(unknown)}")
        return cls(**data)
