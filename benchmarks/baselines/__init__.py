"""What the benchmarks measure the product against, kept out of the product (nothing in seq2seq/ or bot/ imports it)."""
