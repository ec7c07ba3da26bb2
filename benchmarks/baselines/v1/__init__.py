"""Model v1 (an LSTM over an 8,000-word vocabulary, decoded by a NumPy copy of the network), as a baseline only.

v2 replaced it in the product: the CTranslate2 engine decodes faster (`benchmarks.engine_bench`). The shipped v1 model
is models/default before commit 1fb26e4:

    mkdir -p /work/v1model && git archive 1fb26e4~1 models/default | tar -x -C /work/v1model --strip-components=1
"""
