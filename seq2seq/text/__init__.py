"""Text before the model: normalisation, subword tokenizer, special tokens, corpora, what a fine-tune may learn."""
