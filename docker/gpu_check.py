"""Whether this image can decode on an NVIDIA GPU: CTranslate2's CUDA devices and the cuBLAS it loads (exit 0 yes).

CTranslate2's wheel links the CUDA runtime statically and opens libcublas.so.12 only when a model first runs on
a GPU (there is no ELF dependency for `ldd` to show), so this opens the library by the same name, through the
same search (ld.so.conf.d, where the Dockerfile lists the nvidia-* wheels' folders), and says where it was found.

    docker compose --profile gpu run --rm --no-deps worker-gpu python /app/docker/gpu_check.py
    exit 0: cuBLAS loads and a GPU is visible; 1: cuBLAS is missing; 2: cuBLAS loads but no GPU is visible
"""

from __future__ import annotations

import ctypes
import sys
from pathlib import Path

CUBLAS = "libcublas.so.12"  # the name CTranslate2 4.x (built against CUDA 12) opens


def loaded_path(name: str) -> str:
    """Where the dynamic linker found an already loaded library, from this process' memory map."""
    stem = name.split(".so")[0]
    for line in Path("/proc/self/maps").read_text().splitlines():
        path = line.split()[-1]
        if Path(path).name.startswith(stem + ".so"):
            return str(Path(path).resolve())
    return "?"


def main() -> int:
    import ctranslate2

    devices = ctranslate2.get_cuda_device_count()  # 0, not an error, where no driver or GPU is present
    print(f"ctranslate2 {ctranslate2.__version__}: {devices} CUDA device(s)")
    try:
        ctypes.CDLL(CUBLAS)
    except OSError as exc:
        print(f"{CUBLAS}: not found ({exc}); build with EXTRAS=cuda (the gpu profile does)")
        return 1
    print(f"{CUBLAS}: {loaded_path(CUBLAS)} (with {Path(loaded_path('libcublasLt.so.12')).name})")
    if devices == 0:
        print("no GPU visible: on the host, install the NVIDIA Container Toolkit and start with the gpu profile")
        return 2
    print(f"compute types on cuda: {', '.join(sorted(ctranslate2.get_supported_compute_types('cuda')))}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
