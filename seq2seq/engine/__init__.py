"""Model v2's serving side: the converter to CTranslate2 and the decoder that runs on it."""
