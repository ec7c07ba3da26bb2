"""The model worker: serves replies over HTTP with dynamic batching, runs fine-tuning jobs, swaps versions."""

import os

# Replies decode in CTranslate2, whose threads are set per engine (`server.engine_args`). What NumPy still
# does here is small: BLAS helper threads would only spin and contend with decoding (and with a training
# job) on a few cores, as they did when v1 decoded in NumPy (one BLAS thread was 4-5x faster on 2 cores).
# Set before NumPy is first imported (`python -m seq2seq serve` imports this package first); an explicit
# OPENBLAS_NUM_THREADS / MKL_NUM_THREADS in the environment wins. TensorFlow's own thread pools, which do a
# fine-tuning job's training, do not use OpenBLAS and are not affected.
BLAS_DEFAULTS = {var: "1" for var in ("OPENBLAS_NUM_THREADS", "MKL_NUM_THREADS") if var not in os.environ}
os.environ.update(BLAS_DEFAULTS)
