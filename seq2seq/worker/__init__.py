"""The model worker: serves replies over HTTP with dynamic batching, runs fine-tuning jobs, swaps versions."""
