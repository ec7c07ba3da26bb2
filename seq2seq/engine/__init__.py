"""The one place that turns trained weights into the serving model: convert, decoding settings, decode, evaluate."""
