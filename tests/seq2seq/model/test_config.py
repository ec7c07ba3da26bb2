"""Settings as JSON holds them: an architecture is read exactly, training settings skip what they do not know."""

from __future__ import annotations

import pytest

from seq2seq.model.config import LSTMConfig, TransformerConfig
from seq2seq.model.presets import TransformerTrainConfig, preset


@pytest.mark.parametrize("config", [TransformerConfig(dim=64, heads=2), LSTMConfig(units=64), preset("tiny")[1]])
def test_settings_round_trip_through_their_dict(config):
    assert type(config).from_dict(config.to_dict()) == config


@pytest.mark.parametrize("kind", [TransformerConfig, LSTMConfig])
def test_an_architecture_with_an_unknown_key_is_refused_by_name(kind):
    with pytest.raises(ValueError, match=rf"unknown {kind.__name__} keys: \['wings'\]"):
        kind.from_dict({**kind().to_dict(), "wings": 2})


def test_training_settings_from_another_version_load_without_the_keys_this_one_lacks():
    saved = {**TransformerTrainConfig(batch_size=32).to_dict(), "lr_decay": 0.5}  # a field v1's loop had
    assert TransformerTrainConfig.from_dict(saved) == TransformerTrainConfig(batch_size=32)
