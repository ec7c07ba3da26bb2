"""Benchmarks: scripts that print figures and write JSON (`python -m benchmarks.NAME --json OUT`), never timed tests."""
