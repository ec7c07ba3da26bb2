"""Model directories: v2 and v1 told apart, v1 refused with what to use instead, float16 weights, fresh-model
loading, and clear errors naming the broken file."""

import json
import shutil

import numpy as np
import pytest

from seq2seq import model_dir
from seq2seq.model.lstm import build
from seq2seq.model_dir import ModelDirError


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
        model_dir.load(broken)


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
        model_dir.load(broken)


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
        model_dir.load("/nonexistent/model")


def test_kind_tells_v2_from_v1_and_names_what_is_missing(tiny_model_dir, tiny_v1_model_dir, tmp_path):
    assert model_dir.kind(tiny_model_dir) == model_dir.V2 and model_dir.kind(tiny_v1_model_dir) == model_dir.V1
    assert model_dir.engine_dir(tiny_model_dir) == tiny_model_dir / "engine"
    with pytest.raises(ModelDirError, match="v1 model: replaced by the v2 engine"):
        model_dir.engine_dir(tiny_v1_model_dir)
    with pytest.raises(ModelDirError, match="is a v2 model directory"):
        model_dir.load(tiny_model_dir)
    with pytest.raises(ModelDirError, match="fine-tuning needs a v2 one"):
        model_dir.load_transformer(tiny_v1_model_dir)
    noengine = tmp_path / "noengine"
    shutil.copytree(tiny_model_dir, noengine)
    shutil.rmtree(noengine / "engine")
    with pytest.raises(ModelDirError, match="missing folder: .*engine"):
        model_dir.kind(noengine)
    (tmp_path / "empty").mkdir()
    with pytest.raises(ModelDirError, match="neither transformer.json .* nor config.json"):
        model_dir.kind(tmp_path / "empty")


def test_a_v2_directory_loads_for_fine_tuning(tiny_model_dir, tmp_path):
    bundle = model_dir.load_transformer(tiny_model_dir)
    assert bundle.config.vocab_size == len(bundle.tokenizer()) and bundle.train["batch_size"] > 0
    assert bundle.weights["embedding/embeddings"].shape == (bundle.config.vocab_size, bundle.config.dim)
    broken = tmp_path / "m"
    shutil.copytree(tiny_model_dir, broken)
    with np.load(broken / "weights.npz") as data:
        arrays = {k: data[k] for k in data.files}
    arrays["out_bias"] = np.full_like(arrays["out_bias"], np.nan)
    np.savez(broken / "weights.npz", **arrays)
    with pytest.raises(ModelDirError, match="NaN"):
        model_dir.load_transformer(broken)
    (broken / "transformer.json").write_text('{"model": {"dim": 7, "heads": 2}}')
    with pytest.raises(ModelDirError, match="invalid model config"):
        model_dir.load_transformer(broken)


def test_a_v1_directory_is_refused_with_what_to_use_instead(tiny_model_dir, tiny_v1_model_dir, tmp_path):
    model_dir.refuse_v1(tiny_model_dir, "chat")  # v2: nothing to refuse
    with pytest.raises(ModelDirError) as refused:
        model_dir.refuse_v1(tiny_v1_model_dir, "chat")
    message = str(refused.value)
    assert "retired v1 model" in message and "chat needs a v2 model" in message
    assert "models/default" in message and "/banter retrain" in message
    with pytest.raises(ModelDirError, match="not found"):
        model_dir.refuse_v1(tmp_path / "nope", "chat")
