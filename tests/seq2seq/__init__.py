"""Tests of the reply model package."""
