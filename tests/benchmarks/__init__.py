"""Tests of the benchmark scripts: they run, end to end, and write their figures."""
