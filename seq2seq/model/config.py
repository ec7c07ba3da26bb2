"""The networks' architecture settings: the Transformer (model v2) and the LSTM compared with it (stdlib only: the
converter and the engine read them without Keras)."""

from __future__ import annotations

from dataclasses import asdict, dataclass, fields
from typing import Self

PAD_ID = 0  # must match the tokenizer's padding id (`seq2seq.text.vocab.PAD_ID`)
CELLS = ("lstm", "gru")
ATTENTIONS = ("luong", "bahdanau")
ACTIVATIONS = ("relu", "gelu")  # what both Keras and CTranslate2 compute the same way


class DictSettings:
    """to_dict/from_dict for a settings dataclass, as JSON files hold it. `STRICT` refuses unknown keys (an
    architecture must be read exactly); otherwise they are skipped (training settings saved by another version)."""

    STRICT = True

    def to_dict(self) -> dict:
        return asdict(self)

    @classmethod
    def from_dict(cls, data: dict) -> Self:
        known = {f.name for f in fields(cls)}
        unknown = set(data) - known
        if unknown and cls.STRICT:
            raise ValueError(f"unknown {cls.__name__} keys: {sorted(unknown)}")
        return cls(**{k: v for k, v in data.items() if k in known})


@dataclass(frozen=True)
class TransformerConfig(DictSettings):
    vocab_size: int = 8000  # subword pieces; one matrix embeds source and target and projects the output
    dim: int = 256
    heads: int = 4
    ffn_dim: int = 1024
    encoder_layers: int = 3
    decoder_layers: int = 3
    activation: str = "relu"
    dropout: float = 0.1  # on the embeddings and on each sub-layer's output before its residual
    label_smoothing: float = 0.1
    max_source_len: int = 64  # pieces of context + separator + message, cut from the left
    max_target_len: int = 40  # reply pieces before EOS, cut from the right
    context_turns: int = 2  # previous turns the source holds before the message
    positions: int = 128  # rows of the sinusoidal position table: ≥ max_source_len and max_target_len + 1
    server_tag: bool = False  # every source starts with SERVER_TAG_ID: set by fine-tuning on a server's log

    def __post_init__(self) -> None:
        if self.dim % self.heads:
            raise ValueError(f"dim {self.dim} is not a multiple of heads {self.heads}")
        if self.activation not in ACTIVATIONS:
            raise ValueError(f"activation must be one of {', '.join(ACTIVATIONS)}")
        if self.positions < max(self.max_source_len, self.max_target_len + 1):
            raise ValueError("positions must cover max_source_len and max_target_len + 1")

    @property
    def head_dim(self) -> int:
        return self.dim // self.heads


@dataclass(frozen=True)
class LSTMConfig(DictSettings):
    """The encoder-decoder RNN with attention (`seq2seq.model.lstm`): model v1's network, now trained on subword
    pieces to compare with the Transformer (and by the benchmarks' v1 baseline on words)."""

    vocab_size: int = 8005
    embed_dim: int = 256  # also the output projection's width: input and output embeddings are tied
    units: int = 256  # decoder units; a bidirectional encoder has units // 2 per direction
    cell: str = "lstm"  # "lstm" or "gru"
    encoder_layers: int = 1
    decoder_layers: int = 1
    bidirectional: bool = True
    attention: str = "luong"  # "luong" (general) or "bahdanau" (additive)
    dropout: float = 0.2
    max_source_len: int = 32  # source tokens (the previous turn, a separator, the message), cut from the left
    max_target_len: int = 20  # reply tokens before EOS, cut from the right
    context_turns: int = 1  # previous turns fed to the encoder before the query
    embed_init_std: float = 0.1  # small: with tied output embeddings, N(0, 1) starts with huge logits
