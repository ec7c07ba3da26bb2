"""v1's named settings: its training settings (word vocabulary, epochs, plateau decay) and network sizes."""

from __future__ import annotations

from dataclasses import dataclass, replace

from seq2seq.model.config import DictSettings, LSTMConfig
from seq2seq.model.presets import LSTM_PRESETS


@dataclass(frozen=True)
class TrainConfig(DictSettings):
    STRICT = False  # settings saved by an older version still load
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


PRESETS: dict[str, tuple[LSTMConfig, TrainConfig]] = {
    "tiny": (
        LSTM_PRESETS["tiny"],
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
    "default": (  # the shipped v1 model
        LSTMConfig(embed_dim=256, units=256, dropout=0.2, max_source_len=32, max_target_len=20),
        TrainConfig(),
    ),
    "large": (
        LSTMConfig(
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


def preset(name: str) -> tuple[LSTMConfig, TrainConfig]:
    if name not in PRESETS:
        raise ValueError(f"unknown v1 preset {name!r}; choose one of {', '.join(PRESETS)}")
    return replace(PRESETS[name][0]), PRESETS[name][1]
