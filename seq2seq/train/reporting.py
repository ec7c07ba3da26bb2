"""Training observability: a progress bar with throughput, TensorBoard scalars, the loss-curve PNG."""

from __future__ import annotations

import sys
import time
from pathlib import Path

from tqdm import tqdm


class Progress:
    """tqdm bar over steps showing loss and target tokens per second."""

    def __init__(self, total: int, initial: int, quiet: bool = False):
        self.bar = tqdm(total=total, initial=initial, unit="step", dynamic_ncols=True, disable=quiet, mininterval=1.0)
        self.window_tokens = 0
        self.window_start = time.perf_counter()
        self.tokens_per_s = 0.0

    def update(self, loss: float, tokens: int) -> None:
        self.window_tokens += tokens
        elapsed = time.perf_counter() - self.window_start
        if elapsed >= 2.0:
            self.tokens_per_s = self.window_tokens / elapsed
            self.window_tokens, self.window_start = 0, time.perf_counter()
        self.bar.set_postfix(loss=f"{loss:.3f}", tok_s=f"{self.tokens_per_s:,.0f}", refresh=False)
        self.bar.update(1)

    def write(self, message: str) -> None:
        # stderr, like the bar: a fine-tune's stdout carries only its JSON events, and its stderr is the job's log
        self.bar.write(message, file=sys.stderr)

    def close(self) -> None:
        self.bar.close()


class Scalars:
    """TensorBoard event files through the tensorboard package alone (no TensorFlow call)."""

    def __init__(self, logdir: Path):
        from tensorboard.summary import Writer

        logdir.mkdir(parents=True, exist_ok=True)
        self.writer = Writer(str(logdir))

    def add(self, tag: str, value: float, step: int) -> None:
        self.writer.add_scalar(tag, float(value), step)

    def flush(self) -> None:
        self.writer.flush()

    def close(self) -> None:
        self.writer.close()


def plot_losses(history: dict, path: Path, title: str = "Banter reply model") -> None:
    """Training loss (smoothed) and validation loss against steps, as a PNG."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, ax = plt.subplots(figsize=(7, 4), dpi=100)
    train = history.get("train", [])
    if train:
        steps, losses = zip(*train, strict=False)
        ax.plot(steps, losses, label="training loss", alpha=0.8)
    for key, label in (("val", "validation loss"), ("new_val", "new pairs validation loss")):
        points = history.get(key, [])
        if points:
            steps, losses = zip(*points, strict=False)
            ax.plot(steps, losses, marker="o", label=label)
    ax.set_xlabel("step")
    ax.set_ylabel("cross-entropy per token")
    ax.set_title(title)
    ax.grid(alpha=0.3)
    ax.legend()
    fig.tight_layout()
    tmp = path.with_suffix(".tmp.png")
    fig.savefig(tmp)
    plt.close(fig)
    tmp.replace(path)


def publish_figures(figures: dict, json_path: Path | None) -> None:
    """Print a benchmark's figures as aligned lines and, if asked, write them as JSON."""
    import json

    width = max(len(k) for k in figures)
    for key, value in figures.items():
        print(f"{key:<{width}}  {value:,.4f}" if isinstance(value, float) else f"{key:<{width}}  {value}")
    if json_path:
        json_path.parent.mkdir(parents=True, exist_ok=True)
        json_path.write_text(json.dumps(figures, indent=2) + "\n")
