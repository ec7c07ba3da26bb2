"""Named settings. The Transformer (model v2): tiny (tests), default (the shipped model, ≤ 2.5 h on a 2-core CPU),
large (a GPU), each with its training settings. The LSTM compared with it: networks only, trained with the
Transformer's default training settings (`train --arch lstm --tokenizer DIR`)."""

from __future__ import annotations

from dataclasses import dataclass, replace

from seq2seq.model.config import DictSettings, LSTMConfig, TransformerConfig


@dataclass(frozen=True)
class TransformerTrainConfig(DictSettings):
    STRICT = False  # settings saved by an older version still load
    vocab_size: int = 8000  # subword pieces, specials and bytes included
    batch_size: int = 64
    learning_rate: float = 1e-3  # the peak, reached after the warm-up
    warmup_steps: int = 600  # linear warm-up, then cosine decay to min_lr_ratio × peak at max_steps
    min_lr_ratio: float = 0.05
    weight_decay: float = 0.01  # AdamW; never on norms, biases or the position table
    clipnorm: float = 1.0
    # The schedule's length: 5 epochs of about 1,990 steps. Measured 2026-11-29 on the shared 2-core machine
    # (load 5-6): 0.95 CPU-seconds and 1.43 s of wall time a step, 1,190 target pieces per CPU-second; an
    # unshared machine should run 1.0-1.6 steps/s, so these steps take 1.7-2.8 h: the hard stop decides.
    max_steps: int = 10_000
    max_seconds: float = 8_400.0  # a hard stop (2 h 20 min), so training plus the final report fits 2.5 h
    eval_every: int = 500  # steps between validation passes (and copies of the best weights)
    checkpoint_every: int = 250
    patience: int = 6  # validation passes without improvement before stopping
    # True: stop on patience and keep the weights of the best validation pass. False: run the whole schedule and
    # keep the last weights (a fine-tune, whose validation is mostly replayed base pairs: judged by the gate).
    keep_best: bool = True
    test_fraction: float = 0.02  # conversations held out for the final report, never trained on
    val_fraction: float = 0.02  # conversations held out for early stopping
    seed: int = 1234
    bucket: int = 4  # pad batch lengths to multiples of this: under JAX each new shape compiles a new train step


PRESETS: dict[str, tuple[TransformerConfig, TransformerTrainConfig]] = {
    "tiny": (
        TransformerConfig(
            dim=32,
            heads=4,
            ffn_dim=64,
            encoder_layers=2,
            decoder_layers=2,
            dropout=0.0,
            max_source_len=32,
            max_target_len=24,
            context_turns=1,
            positions=64,
        ),
        TransformerTrainConfig(
            vocab_size=600,
            batch_size=16,
            learning_rate=3e-3,
            warmup_steps=20,
            max_steps=300,
            eval_every=50,
            checkpoint_every=50,
            patience=3,
            test_fraction=0.1,
            val_fraction=0.1,
        ),
    ),
    # 3+3 layers of width 256 with 8,000 pieces: 7.6M parameters, about 15 MB as float16.
    # `Pair` carries one previous turn, so the source is that turn, a separator and the message.
    "default": (TransformerConfig(context_turns=1), TransformerTrainConfig()),
    # For a GPU, with KERAS_BACKEND=jax (README "Training on a GPU"): 6+6 layers of width 512, 8 heads, 16,000
    # pieces: 52M parameters, about 105 MB as float16. Sources of 128 pieces keep 98% of the corpus' contexts
    # whole (64 pieces cut 17%), targets of 63 keep 96% of its replies (40 cut 12%). At batch 256 an epoch of the
    # chit-chat corpus is about 510 steps; the schedule spans about 23 of them and early stopping ends it
    # sooner. Bucket 16: an epoch's batches come in 10 shapes, 50 at bucket 4, for 5% more padding.
    "large": (
        TransformerConfig(
            dim=512,
            heads=8,
            ffn_dim=2048,
            encoder_layers=6,
            decoder_layers=6,
            dropout=0.2,  # 52M parameters on about 3M reply pieces: more than the default's 0.1
            max_source_len=128,
            max_target_len=63,  # + EOS = 64, a multiple of the bucket
            context_turns=1,
            positions=128,
        ),
        TransformerTrainConfig(
            vocab_size=16000,
            batch_size=256,
            learning_rate=5e-4,
            warmup_steps=1000,
            max_steps=12_000,
            max_seconds=14_400.0,  # a hard stop at 4 h: the run should end far sooner on a GPU
            eval_every=500,
            checkpoint_every=500,
            patience=5,
            bucket=16,
        ),
    ),
}


def preset(name: str, **model_overrides) -> tuple[TransformerConfig, TransformerTrainConfig]:
    if name not in PRESETS:
        raise ValueError(f"unknown preset {name!r}; choose one of {', '.join(PRESETS)}")
    model, train = PRESETS[name]
    return replace(model, **model_overrides), train


LSTM_PRESETS: dict[str, LSTMConfig] = {
    "tiny": LSTMConfig(embed_dim=32, units=32, dropout=0.0, max_source_len=16, max_target_len=12),
    # About the default Transformer's 7.6M parameters at 8,000 pieces, and its source/target lengths in pieces.
    "subword": LSTMConfig(
        embed_dim=256, units=512, decoder_layers=2, dropout=0.1, max_source_len=64, max_target_len=40
    ),
}
LSTM_PRESETS["default"] = LSTM_PRESETS["subword"]  # what `train --arch lstm` trains without --preset


def lstm_preset(name: str) -> LSTMConfig:
    if name not in LSTM_PRESETS:
        raise ValueError(f"unknown lstm preset {name!r}; choose one of {', '.join(LSTM_PRESETS)}")
    return LSTM_PRESETS[name]
