"""Resumable training state: weights, optimizer slots and loop counters, written atomically."""

from __future__ import annotations

import json
import os
import shutil
from pathlib import Path

import numpy as np

from seq2seq.model_dir import assign_weights, weights_of


def save(run_dir: Path, model, state: dict) -> None:
    """A new numbered directory, then an atomic pointer swap: kill -9 at any moment is safe."""
    step = state["step"]
    target = run_dir / f"checkpoint-{step:08d}"
    tmp = run_dir / f".checkpoint-{step:08d}.tmp"
    shutil.rmtree(tmp, ignore_errors=True)
    tmp.mkdir(parents=True)
    np.savez(tmp / "weights.npz", **weights_of(model))
    np.savez(
        tmp / "optimizer.npz", *[np.asarray(v.numpy() if hasattr(v, "numpy") else v) for v in model.optimizer.variables]
    )
    (tmp / "state.json").write_text(json.dumps(state))
    shutil.rmtree(target, ignore_errors=True)
    os.replace(tmp, target)
    pointer = run_dir / "latest.tmp"
    pointer.write_text(target.name)
    os.replace(pointer, run_dir / "latest")
    for old in sorted(run_dir.glob("checkpoint-*"))[:-2]:  # keep two: the newest may be mid-write elsewhere
        shutil.rmtree(old, ignore_errors=True)


def load(run_dir: Path, model) -> dict | None:
    """Restore the latest checkpoint into a built, compiled model; None when there is none."""
    pointer = run_dir / "latest"
    if not pointer.exists():
        return None
    ckpt = run_dir / pointer.read_text().strip()
    with np.load(ckpt / "weights.npz") as data:
        assign_weights(model, {k: data[k] for k in data.files}, str(ckpt / "weights.npz"))
    optimizer = model.optimizer
    optimizer.build(model.trainable_variables)
    with np.load(ckpt / "optimizer.npz") as data:
        arrays = [data[f"arr_{i}"] for i in range(len(data.files))]
    if len(arrays) != len(optimizer.variables):
        raise ValueError(f"{ckpt}: optimizer state does not match this model (different settings?)")
    for variable, array in zip(optimizer.variables, arrays, strict=False):
        variable.assign(array)
    return json.loads((ckpt / "state.json").read_text())
