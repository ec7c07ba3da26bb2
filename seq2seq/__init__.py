"""Banter's reply model: tokenising, training, decoding, evaluation and the model worker."""
