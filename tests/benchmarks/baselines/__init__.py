"""Tests of the baselines the benchmarks compare the product against."""
