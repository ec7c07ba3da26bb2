"""Tests of the model worker (seq2seq/worker), its protocol, client and load test."""
