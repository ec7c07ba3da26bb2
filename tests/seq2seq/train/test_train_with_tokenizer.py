"""`train --tokenizer`: the Transformer and the LSTM learn on a given subword tokenizer, and `evaluate` scores the
LSTM by it in v1's words, so the two architectures compare at one tokenizer."""

from __future__ import annotations

import contextlib
import io
import json
import math
from pathlib import Path

import pytest

from seq2seq import cli, model_dir
from seq2seq.text import corpus
from seq2seq.text.subword import MODEL_FILE, SubwordTokenizer

pytestmark = pytest.mark.slow


@pytest.fixture(scope="module")
def pairs_file(tmp_path_factory) -> Path:
    path = tmp_path_factory.mktemp("pairs") / "pairs.tsv"
    corpus.write_tsv(corpus.chitchat_pairs()[:600], path)
    return path


def _train(tmp_path: Path, pairs_file: Path, tokenizer_dir: Path, *arch: str) -> Path:
    out = tmp_path / "model"
    code = cli.main(
        ["train", *arch, "--preset", "tiny", "--tokenizer", str(tokenizer_dir), "--pairs", str(pairs_file)]
        + ["--schedule-steps", "4", "--warmup-steps", "1", "--out", str(out), "--run-dir", str(tmp_path / "run")]
        + ["--quiet"]
    )
    assert code == 0
    return out


def test_the_lstm_learns_on_the_given_pieces_and_evaluate_scores_it(tmp_path, pairs_file, tiny_model_dir):
    given = tiny_model_dir / model_dir.ENGINE_DIR
    out = _train(tmp_path, pairs_file, given, "--arch", "lstm")
    assert (out / MODEL_FILE).read_bytes() == (given / MODEL_FILE).read_bytes()
    bundle = model_dir.load(out)
    pieces = SubwordTokenizer.load(given).pieces
    assert list(bundle.vocab.tokens) == pieces and bundle.config.vocab_size == len(pieces)
    metrics = model_dir.read_metrics(out)
    assert metrics["steps"] == 4 and metrics["params"] > 0 and math.isfinite(metrics["test_word_perplexity"])

    printed = io.StringIO()
    with contextlib.redirect_stdout(printed):
        assert cli.main(["evaluate", "--model", str(out), "--pairs", str(out / model_dir.HELDOUT_FILE), "--json"]) == 0
    result = json.loads(printed.getvalue())
    assert result["pairs"] == len(corpus.read_pairs(out / model_dir.HELDOUT_FILE))
    # The same scores, spread over the same words, as training's report on its test split.
    assert result["word_perplexity"] == pytest.approx(metrics["test_word_perplexity"], rel=1e-3)
    assert result["covered_replies"] <= result["pairs"]


def test_the_transformer_keeps_the_given_tokenizer(tmp_path, pairs_file, tiny_model_dir):
    given = tiny_model_dir / model_dir.ENGINE_DIR
    out = _train(tmp_path, pairs_file, given)
    assert model_dir.kind(out) == model_dir.V2
    assert (out / model_dir.ENGINE_DIR / MODEL_FILE).read_bytes() == (given / MODEL_FILE).read_bytes()
