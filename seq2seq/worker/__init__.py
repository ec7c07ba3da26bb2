"""The model worker: serves replies over HTTP with dynamic batching, runs fine-tuning jobs, swaps versions."""

import os

# Decoding multiplies small matrices. BLAS helper threads spin and contend with each other (and with a
# training job) on a few cores: one BLAS thread per decode was 4-5x faster on the 2-core test machine.
# Set before NumPy is first imported (`python -m seq2seq serve` imports this package first); an explicit
# OPENBLAS_NUM_THREADS / MKL_NUM_THREADS in the environment wins. TensorFlow's own thread pools, which do a
# fine-tuning job's training, do not use OpenBLAS and are not affected.
BLAS_DEFAULTS = {var: "1" for var in ("OPENBLAS_NUM_THREADS", "MKL_NUM_THREADS") if var not in os.environ}
os.environ.update(BLAS_DEFAULTS)
