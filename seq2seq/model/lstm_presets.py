"""Named model and training settings: tiny (tests), default (the shipped model), large (a GPU)."""

from __future__ import annotations

from dataclasses import asdict, dataclass, fields, replace

from seq2seq.model.lstm_config import ModelConfig


@dataclass(frozen=True)
class TrainConfig:
    vocab_size: int = 8000  # words, not counting the special tokens
    batch_size: int = 128
    learning_rate: float = 1e-3
    clipnorm: float = 5.0
    max_epochs: float = 20.0
    eval_every: int = 500  # steps between validation passes (and checkpoints of the best weights)
    checkpoint_every: int = 200  # steps between resumable checkpoints
    patience: int = 4  # validation passes without improvement before stopping
    lr_decay: float = 0.5  # learning rate factor after a pass without improvement
    test_fraction: float = 0.02  # conversations held out for the final report, never trained on
    val_fraction: float = 0.02  # conversations held out for early stopping
    seed: int = 1234

    def to_dict(self) -> dict:
        return asdict(self)

    @classmethod
    def from_dict(cls, data: dict) -> TrainConfig:
        known = {f.name for f in fields(cls)}
        return cls(**{k: v for k, v in data.items() if k in known})


PRESETS: dict[str, tuple[ModelConfig, TrainConfig]] = {
    "tiny": (
        ModelConfig(embed_dim=32, units=32, dropout=0.0, max_source_len=16, max_target_len=12),
        TrainConfig(
            vocab_size=400,
            batch_size=16,
            learning_rate=1e-2,
            max_epochs=30,
            eval_every=40,
            checkpoint_every=20,
            patience=3,
            test_fraction=0.1,
            val_fraction=0.1,
        ),
    ),
    "default": (
        ModelConfig(embed_dim=256, units=256, dropout=0.2, max_source_len=32, max_target_len=20),
        TrainConfig(),
    ),
    # For comparing with the v2 Transformer at its tokenizer (`train --arch lstm --tokenizer`): about its 7.6M
    # parameters at 8,000 pieces, and its source/target lengths in pieces.
    "subword": (
        ModelConfig(embed_dim=256, units=512, decoder_layers=2, dropout=0.1, max_source_len=64, max_target_len=40),
        TrainConfig(),
    ),
    "large": (
        ModelConfig(
            embed_dim=512,
            units=1024,
            encoder_layers=2,
            decoder_layers=2,
            dropout=0.3,
            max_source_len=48,
            max_target_len=30,
        ),
        TrainConfig(vocab_size=16000, batch_size=256, eval_every=250),
    ),
}


def preset(name: str, **model_overrides) -> tuple[ModelConfig, TrainConfig]:
    if name not in PRESETS:
        raise ValueError(f"unknown preset {name!r}; choose one of {', '.join(PRESETS)}")
    model, train = PRESETS[name]
    return replace(model, **model_overrides), train
