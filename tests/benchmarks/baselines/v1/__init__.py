"""Tests of model v1's baseline: parity of its NumPy decoder with Keras and correctness of what the benchmarks use."""
