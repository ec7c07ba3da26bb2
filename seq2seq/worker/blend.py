"""Weight-space blending of a fine-tune with the model it started from, when the whole fine-tune forgets too much.

A fine-tune and its base lie in one basin, so the straight line between their weights is a family of models:
from the base (share 0) to the fine-tune (share 1). Part of the way along, most of what the log taught is kept
while the base held-out set recovers (WiSE-FT, Wortsman et al., 2022). The worker tries the shares of
`BLEND_SHARES` in order, only when the whole fine-tune learned the new pairs but fails the base margin, and
publishes the first the gate accepts.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from pathlib import Path

import numpy as np

from seq2seq import model_dir

BLEND_SHARES = (0.75, 0.5)  # of the fine-tune's weights; measured on learncheck's new-words log (closing note)


def blend(base: Mapping[str, np.ndarray], tuned: Mapping[str, np.ndarray], share: float) -> dict[str, np.ndarray]:
    """(1 − share) · base + share · tuned, variable by variable (both from one architecture)."""
    if set(base) != set(tuned):
        raise ValueError("the fine-tune and its base have different variables: not one architecture")
    return {k: ((1.0 - share) * base[k].astype(np.float32) + share * tuned[k].astype(np.float32)) for k in tuned}


def write_blend(out: Path, base: model_dir.TransformerBundle, tuned: model_dir.TransformerBundle, share: float) -> None:
    """Rewrite the candidate directory `out` as the blend: its Keras weights and its serving engine."""
    from seq2seq.engine.convert import export

    weights = blend(base.weights, tuned.weights, share)
    export(out / model_dir.ENGINE_DIR, tuned.config, weights, base.tokenizer())
    model_dir.save_transformer(
        out, tuned.config, tuned.train, weights, f"{_command(out)}, blended {share:g}", model_dir.read_metrics(out)
    )


def _command(out: Path) -> str:
    return str(json.loads((out / model_dir.TRANSFORMER_FILE).read_text()).get("command") or "finetune")
