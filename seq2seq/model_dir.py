"""The self-contained model directory, the one place that reads one: v2 (transformer.json, float16 weights.npz,
the serving engine in engine/) or v1 (config.json, vocab.json, weights.npz); metrics.json and loss.png in both.

`kind(path)` tells them apart. v1 is retired: the worker lists its versions as retired, `chat`, `reply`, `serve` and
`evaluate` refuse it (`refuse_v1`), and only the benchmarks' baseline (`benchmarks/baselines/v1`) still reads it
(`load`). v1's layout lives on for the LSTM trained on subword pieces (`train --arch lstm --tokenizer`), which
`evaluate` scores; everything new is v2.
"""

from __future__ import annotations

import json
import os
import zipfile
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from seq2seq.model.config import LSTMConfig, TransformerConfig
from seq2seq.text.vocab import Vocabulary

V1, V2 = "v1", "v2"
CONFIG_FILE = "config.json"  # v1
VOCAB_FILE = "vocab.json"  # v1
WEIGHTS_FILE = "weights.npz"  # both: Keras arrays by variable path, float16 (v2 fine-tunes from them)
TRANSFORMER_FILE = "transformer.json"  # v2: {"format", "model": TransformerConfig, "train": settings, "command"}
ENGINE_DIR = "engine"  # v2: what serves (`seq2seq.engine.convert.export`), tokenizer included
METRICS_FILE = "metrics.json"
LOSS_CHART_FILE = "loss.png"  # drawn by training; the worker serves it to the bot
HELDOUT_FILE = "heldout.tsv"  # the base held-out pairs a fine-tune's gate judges on; travels with fine-tunes
FORMAT = 1
V1_RETIRED = "v1 model: replaced by the v2 engine"
V1_ADVICE = (
    "use a v2 model such as models/default (the shipped one), or let the bot's `/banter retrain` fine-tune v2 on "
    "the whole log"
)


class ModelDirError(Exception):
    """A model directory is missing a file or holds a broken one; the message names it."""


@dataclass
class ModelBundle:
    config: LSTMConfig
    vocab: Vocabulary
    weights: dict[str, np.ndarray]  # variable path → float32 array
    path: Path
    extra: dict  # the rest of config.json (training settings, provenance)


@dataclass
class TransformerBundle:
    """A v2 directory, read for fine-tuning: the architecture, its training settings and the Keras weights."""

    config: TransformerConfig
    train: dict  # seq2seq.model.presets.TransformerTrainConfig as saved
    weights: dict[str, np.ndarray]  # variable path → float32 array
    path: Path

    @property
    def engine(self) -> Path:
        return self.path / ENGINE_DIR

    def tokenizer(self):
        """The model's `SubwordTokenizer` (kept in its engine folder): fine-tuning keeps it."""
        from seq2seq.text.subword import SubwordTokenizer

        return SubwordTokenizer.load(self.engine)


def kind(path: Path | str) -> str:
    """V2 or V1 by the files present; a ModelDirError naming what is missing otherwise."""
    path = Path(path)
    if not path.is_dir():
        raise ModelDirError(f"model directory not found: {path}")
    if (path / TRANSFORMER_FILE).is_file():
        if not (path / ENGINE_DIR).is_dir():
            raise ModelDirError(f"missing folder: {path / ENGINE_DIR} (the serving engine of this v2 model)")
        return V2
    if (path / CONFIG_FILE).is_file():
        return V1
    raise ModelDirError(f"not a model directory: {path} has neither {TRANSFORMER_FILE} (v2) nor {CONFIG_FILE} (v1)")


def refuse_v1(path: Path | str, command: str) -> None:
    """One clear error when `command` is given a v1 directory (a ModelDirError for a missing or broken one too)."""
    path = Path(path)
    if kind(path) != V1:
        return
    from seq2seq.text.subword import MODEL_FILE

    if (path / MODEL_FILE).is_file():
        raise ModelDirError(
            f"{path} is an LSTM trained on subword pieces, kept for comparing architectures: `evaluate` scores it, "
            f"no engine serves it, so {command} needs a v2 model: {V1_ADVICE}"
        )
    raise ModelDirError(f"{path} is a retired v1 model ({V1_RETIRED}); {command} needs a v2 model: {V1_ADVICE}")


def engine_dir(path: Path | str) -> Path:
    """The serving engine's folder of a v2 directory; a clear error for a v1 one or a broken one."""
    path = Path(path)
    if kind(path) != V2:
        raise ModelDirError(f"{path}: {V1_RETIRED}")
    return path / ENGINE_DIR


def _read_config(file: Path, config_type):
    """A model directory's JSON file and the architecture in its "model" table, with one error for both kinds."""
    raw = _read_json(file)
    try:
        return raw, config_type.from_dict(raw["model"])
    except (KeyError, TypeError, ValueError) as exc:
        raise ModelDirError(f"{file}: invalid model config ({exc})") from exc


def load_transformer(path: Path | str) -> TransformerBundle:
    path = Path(path)
    if kind(path) != V2:
        raise ModelDirError(f"{path} is a v1 model directory; fine-tuning needs a v2 one")
    raw, config = _read_config(path / TRANSFORMER_FILE, TransformerConfig)
    train = raw.get("train") if isinstance(raw.get("train"), dict) else {}
    return TransformerBundle(config, train, _read_weights(path / WEIGHTS_FILE), path)


def save_transformer(
    path: Path, config: TransformerConfig, train: dict, weights: dict[str, np.ndarray], command: str, metrics: dict
) -> None:
    """The Keras side of a v2 directory (the engine folder is `engine.convert.export`'s), each file atomically."""
    path.mkdir(parents=True, exist_ok=True)
    tmp = path / "weights.tmp.npz"
    np.savez(tmp, **{k: v.astype(np.float16) for k, v in weights.items()})
    os.replace(tmp, path / WEIGHTS_FILE)
    settings = {"format": FORMAT, "model": config.to_dict(), "train": train, "command": command}
    _atomic_json(path / TRANSFORMER_FILE, settings)
    _atomic_json(path / METRICS_FILE, metrics)


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
    config: LSTMConfig,
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
    """A directory in v1's layout: the benchmarks' v1 baseline, or the LSTM trained on subword pieces."""
    path = Path(path)
    if kind(path) != V1:
        raise ModelDirError(f"{path} is a v2 model directory; this needs a v1 one")
    raw, config = _read_config(path / CONFIG_FILE, LSTMConfig)
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
