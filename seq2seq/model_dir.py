"""The self-contained model directory: config, vocabulary, float16 weights, metrics."""

from __future__ import annotations

import json
import os
import zipfile
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from seq2seq.model_config import ModelConfig
from seq2seq.vocab import Vocabulary

CONFIG_FILE = "config.json"
VOCAB_FILE = "vocab.json"
WEIGHTS_FILE = "weights.npz"
METRICS_FILE = "metrics.json"
LOSS_CHART_FILE = "loss.png"  # drawn by training; the worker serves it to the bot
FORMAT = 1


class ModelDirError(Exception):
    """A model directory is missing a file or holds a broken one; the message names it."""


@dataclass
class ModelBundle:
    config: ModelConfig
    vocab: Vocabulary
    weights: dict[str, np.ndarray]  # variable path → float32 array
    path: Path
    extra: dict  # the rest of config.json (training settings, provenance)


def variable_key(variable) -> str:
    """The variable's path below the model (the model's own name varies within a process)."""
    return variable.path.split("/", 1)[-1]


def weights_of(model) -> dict[str, np.ndarray]:
    return {variable_key(v): np.asarray(v.numpy() if hasattr(v, "numpy") else v) for v in model.weights}


def assign_weights(model, weights: dict[str, np.ndarray], source: str = "weights") -> None:
    """Load arrays into a freshly built model by variable path; any mismatch is an error."""
    for variable in model.weights:
        key = variable_key(variable)
        if key not in weights:
            raise ModelDirError(f"{source}: no array for model variable {key!r}")
        array = weights[key]
        if tuple(array.shape) != tuple(variable.shape):
            raise ModelDirError(f"{source}: {key!r} has shape {array.shape}, model expects {tuple(variable.shape)}")
        variable.assign(array.astype(np.float32))


def save(
    path: Path,
    config: ModelConfig,
    vocab: Vocabulary,
    weights: dict[str, np.ndarray],
    extra: dict | None = None,
    metrics: dict | None = None,
) -> None:
    """Write every file to a temporary name first, so a crash never leaves a half-written file."""
    path.mkdir(parents=True, exist_ok=True)
    _atomic_json(path / CONFIG_FILE, {"format": FORMAT, "model": config.to_dict(), **(extra or {})})
    tmp = path / (VOCAB_FILE + ".tmp")
    vocab.save(tmp)
    os.replace(tmp, path / VOCAB_FILE)
    tmp = path / "weights.tmp.npz"
    np.savez(tmp, **{k: v.astype(np.float16) for k, v in weights.items()})
    os.replace(tmp, path / WEIGHTS_FILE)
    if metrics is not None:
        _atomic_json(path / METRICS_FILE, metrics)


def load(path: Path | str) -> ModelBundle:
    path = Path(path)
    if not path.is_dir():
        raise ModelDirError(f"model directory not found: {path}")
    raw = _read_json(path / CONFIG_FILE)
    try:
        config = ModelConfig.from_dict(raw["model"])
    except (KeyError, TypeError, ValueError) as exc:
        raise ModelDirError(f"{path / CONFIG_FILE}: invalid model config ({exc})") from exc
    try:
        vocab = Vocabulary.load(path / VOCAB_FILE)
    except FileNotFoundError:
        raise ModelDirError(f"missing file: {path / VOCAB_FILE}") from None
    except ValueError as exc:
        raise ModelDirError(str(exc)) from exc
    if len(vocab) != config.vocab_size:
        raise ModelDirError(
            f"{path / VOCAB_FILE} has {len(vocab)} tokens, {path / CONFIG_FILE} says {config.vocab_size}"
        )
    weights = _read_weights(path / WEIGHTS_FILE)
    extra = {k: v for k, v in raw.items() if k != "model"}
    return ModelBundle(config, vocab, weights, path, extra)


def read_metrics(path: Path) -> dict:
    file = Path(path) / METRICS_FILE
    return json.loads(file.read_text()) if file.exists() else {}


def _read_weights(file: Path) -> dict[str, np.ndarray]:
    if not file.exists():
        raise ModelDirError(f"missing file: {file}")
    try:
        with np.load(file, allow_pickle=False) as data:
            weights = {k: data[k].astype(np.float32) for k in data.files}
    except (OSError, ValueError, zipfile.BadZipFile, EOFError) as exc:
        raise ModelDirError(f"corrupt weights file: {file} ({exc})") from exc
    for name, array in weights.items():
        if not np.all(np.isfinite(array)):
            raise ModelDirError(f"corrupt weights file: {file} ({name} holds NaN or infinity)")
    return weights


def _read_json(file: Path) -> dict:
    if not file.exists():
        raise ModelDirError(f"missing file: {file}")
    try:
        data = json.loads(file.read_text(encoding="utf-8"))
    except (ValueError, UnicodeDecodeError) as exc:
        raise ModelDirError(f"corrupt file: {file} ({exc})") from exc
    if not isinstance(data, dict):
        raise ModelDirError(f"corrupt file: {file} (expected a JSON object)")
    return data


def _atomic_json(file: Path, data: dict) -> None:
    tmp = file.with_suffix(file.suffix + ".tmp")
    tmp.write_text(json.dumps(data, indent=2, ensure_ascii=False) + "\n", encoding="utf-8")
    os.replace(tmp, file)
