"""Model directories: float16 weights, fresh-model loading, and clear errors naming the broken file."""

import json
import shutil

import numpy as np
import pytest

from seq2seq import model_dir
from seq2seq.model import build
from seq2seq.model_dir import ModelDirError
from seq2seq.replier import Replier


def test_weights_are_float16_and_load_into_a_fresh_model(tiny_v1_model_dir):
    with np.load(tiny_v1_model_dir / "weights.npz") as data:
        assert all(data[k].dtype == np.float16 for k in data.files)
    bundle = model_dir.load(tiny_v1_model_dir)
    model = build(bundle.config)
    model_dir.assign_weights(model, bundle.weights)
    reloaded = model_dir.weights_of(model)
    assert set(reloaded) == set(bundle.weights)
    for key, array in bundle.weights.items():
        np.testing.assert_array_equal(reloaded[key], array)


@pytest.mark.parametrize("victim", ["config.json", "vocab.json", "weights.npz"])
def test_missing_file_is_named(tiny_v1_model_dir, tmp_path, victim):
    broken = tmp_path / "m"
    shutil.copytree(tiny_v1_model_dir, broken)
    (broken / victim).unlink()
    with pytest.raises(ModelDirError, match=victim):
        Replier.load(broken)


@pytest.mark.parametrize(
    "victim,content",
    [
        ("weights.npz", b"PK\x03\x04 this is not a zip archive"),
        ("config.json", b'{"model": 3'),
        ("vocab.json", b"[]"),
    ],
)
def test_corrupt_file_is_named(tiny_v1_model_dir, tmp_path, victim, content):
    broken = tmp_path / "m"
    shutil.copytree(tiny_v1_model_dir, broken)
    (broken / victim).write_bytes(content)
    with pytest.raises(ModelDirError, match=victim):
        Replier.load(broken)


def test_weights_of_the_wrong_shape_are_refused(tiny_v1_model_dir, tmp_path):
    broken = tmp_path / "m"
    shutil.copytree(tiny_v1_model_dir, broken)
    config = json.loads((broken / "config.json").read_text())
    config["model"]["units"] *= 2
    (broken / "config.json").write_text(json.dumps(config))
    bundle = model_dir.load(broken)
    with pytest.raises(ModelDirError, match="shape"):
        model_dir.assign_weights(build(bundle.config), bundle.weights)


def test_missing_directory():
    with pytest.raises(ModelDirError, match="not found"):
        Replier.load("/nonexistent/model")
