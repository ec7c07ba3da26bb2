"""Where the engine decodes: the CPU or a CUDA GPU (`BANTER_DEVICE`), and the compute type each runs best."""

from __future__ import annotations

import os

import ctranslate2

DEVICES = ("auto", "cpu", "cuda")


def pick_device(requested: str | None = None) -> str:
    """`requested`, else $BANTER_DEVICE, else auto: CUDA when CTranslate2 sees a GPU, the CPU otherwise."""
    choice = (requested or os.environ.get("BANTER_DEVICE") or "auto").strip().lower()
    if choice not in DEVICES:
        raise ValueError(f"BANTER_DEVICE must be one of {', '.join(DEVICES)}, not {choice!r}")
    gpus = ctranslate2.get_cuda_device_count()
    if choice == "cuda" and gpus == 0:
        raise RuntimeError("BANTER_DEVICE=cuda, but CTranslate2 sees no CUDA device")
    if choice == "auto":
        return "cuda" if gpus > 0 else "cpu"
    return choice


def default_compute_type(device: str) -> str:
    return "float16" if device == "cuda" else "int8"
