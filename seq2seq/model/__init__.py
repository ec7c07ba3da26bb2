"""The networks and their settings: the Transformer (served) and the LSTM (kept for comparisons), with presets."""
