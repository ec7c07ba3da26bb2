"""Training loops (Transformer, LSTM) and what they share: splits, batches, checkpoints, progress and figures."""
