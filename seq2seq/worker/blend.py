"""Weight-space blending of a fine-tune with the model it started from, when the whole fine-tune forgets too much.

A fine-tune and its base lie in one basin, so the straight line between their weights is a family of models:
from the base (share 0) to the fine-tune (share 1). Part of the way along, most of what the log taught is kept
while the base held-out set recovers (WiSE-FT, Wortsman et al., 2022). The worker tries the shares of
`largest_accepted`, only when the whole fine-tune learned the new pairs but fails the base margin: forgetting
grows with the share, so a bisection finds the largest share the gate accepts.
"""

from __future__ import annotations

import json
import logging
from collections.abc import Callable, Mapping
from pathlib import Path

import numpy as np

from seq2seq import model_dir
from seq2seq.worker.gate import GateResult

log = logging.getLogger("banter.worker.finetune")

# learncheck's new-words log (6 epochs, before the server tag): the whole fine-tune, base +5.7% per piece and the
# log's held-out word perplexity -44%; share 0.85: +4.6% and -41%; 0.75: +3.5% and -38%. Three halvings of
# [0.5, 1] find a share to within 1/16, for three more scorings of the gate's sets. A blend keeps the log's
# perplexity but little of a server-tagged fine-tune's new words, which the base never tagged: 20 epochs, a third
# of the replay tagged, share 0.875: base +4.1%, log -53%, new words used 18% where the whole fine-tune used 50%.
LOWEST_SHARE = 0.5
BISECTIONS = 3


def blend(base: Mapping[str, np.ndarray], tuned: Mapping[str, np.ndarray], share: float) -> dict[str, np.ndarray]:
    """(1 − share) · base + share · tuned, variable by variable (both from one architecture)."""
    if set(base) != set(tuned):
        raise ValueError("the fine-tune and its base have different variables: not one architecture")
    return {k: ((1.0 - share) * base[k].astype(np.float32) + share * tuned[k].astype(np.float32)) for k in tuned}


def largest_accepted(judge: Callable[[float], bool]) -> float | None:
    """The largest share in [LOWEST_SHARE, 1) that `judge` (write the blend, run the gate) accepts, to within
    (1 − LOWEST_SHARE) / 2**BISECTIONS, given that share 1 failed; None if none it tried passed."""
    low, high, best = LOWEST_SHARE, 1.0, None
    for _ in range(BISECTIONS):
        share = (low + high) / 2
        if judge(share):
            low = best = share
        else:
            high = share
    return best


def blend_back(
    out: Path,
    base: model_dir.TransformerBundle,
    whole: GateResult,
    judge: Callable[[], GateResult],
    announce: Callable[[float], None] = lambda share: None,
) -> tuple[float, GateResult]:
    """The largest blend of the fine-tune in `out` with `base` that `judge` (the gate, on what `out` holds now)
    accepts, written to `out`; else the whole fine-tune written back, rejected as it was judged (`whole`)."""
    tuned, judged, written = model_dir.load_transformer(out), {}, [1.0]

    def accepted(share: float) -> bool:
        announce(share)
        write_blend(out, base, tuned, share)
        written.append(share)
        judged[share] = judge()
        log.info("blend %g: gate %s", share, "passed" if judged[share].passed else "failed")
        return judged[share].passed

    share = largest_accepted(accepted)
    final = share if share is not None else 1.0
    if written[-1] != final:  # the last share tried need not be the one kept
        write_blend(out, base, tuned, final)
    return final, judged[share] if share is not None else whole


def write_blend(out: Path, base: model_dir.TransformerBundle, tuned: model_dir.TransformerBundle, share: float) -> None:
    """Rewrite the candidate directory `out` as the blend: its Keras weights and its serving engine (share 1: the
    fine-tune itself, as trained)."""
    from seq2seq.engine.convert import export

    weights = blend(base.weights, tuned.weights, share)
    export(out / model_dir.ENGINE_DIR, tuned.config, weights, base.tokenizer())
    model_dir.save_transformer(
        out, tuned.config, tuned.train, weights, _command(out, share), model_dir.read_metrics(out)
    )


def _command(out: Path, share: float) -> str:
    trained = str(json.loads((out / model_dir.TRANSFORMER_FILE).read_text()).get("command") or "finetune")
    trained = trained.split(", blended ")[0]
    return trained if share == 1.0 else f"{trained}, blended {share:g}"
