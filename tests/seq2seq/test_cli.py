"""The command line end to end at the tiny preset: train (v2), reply, chat, evaluate, serve; a v1 model refused."""

import json
import os
import subprocess
import sys
import urllib.request
from pathlib import Path

import pytest

pytestmark = pytest.mark.slow
REPO = Path(__file__).resolve().parents[2]
ENV = {**os.environ, "PYTHONPATH": str(REPO)}
KEYS = {
    "perplexity",
    "word_perplexity",
    "word_perplexity_covered",
    "covered_replies",
    "reply_words",
    "bleu1",
    "bleu2",
    "f1",
    "distinct1",
    "distinct2",
    "generic_rate",
    "unk_rate",
    "empty_rate",
    "mean_reply_tokens",
    "latency_ms_p50",
    "latency_ms_p95",
    "pairs",
}


def cli(*args, stdin=None, timeout=300):
    return subprocess.run(
        [sys.executable, "-m", "seq2seq", *args],
        input=stdin,
        env=ENV,
        cwd=REPO,
        capture_output=True,
        text=True,
        timeout=timeout,
    )


@pytest.fixture(scope="module")
def trained(tmp_path_factory):
    base = tmp_path_factory.mktemp("cli")
    pairs = base / "pairs.jsonl"
    from seq2seq.text import corpus

    with pairs.open("w") as handle:
        for p in corpus.chitchat_pairs()[:1200]:
            handle.write(
                json.dumps({"query": p.query, "reply": p.reply, "context": p.context, "group": p.group}) + "\n"
            )
    result = cli(
        "train",
        "--preset",
        "tiny",
        "--pairs",
        str(pairs),
        "--out",
        str(base / "model"),
        "--run-dir",
        str(base / "run"),
        "--max-steps",
        "40",
        "--quiet",
    )
    assert result.returncode == 0, result.stderr[-3000:]
    return base


def test_train_writes_a_self_contained_v2_model_directory(trained):
    model = trained / "model"
    engine = ("engine/model.bin", "engine/subword.model", "engine/engine.json")
    for name in ("transformer.json", "weights.npz", "metrics.json", "loss.png", "heldout.tsv", *engine):
        assert (model / name).is_file(), name
    metrics = json.loads((model / "metrics.json").read_text())
    assert metrics["steps"] == 40 and metrics["test_word_perplexity"] > 1
    assert "--preset tiny" in metrics["command"]
    assert list((trained / "run" / "tensorboard").glob("events.out.tfevents.*"))
    assert (model / "loss.png").read_bytes()[:4] == b"\x89PNG"


def test_reply_prints_one_line(trained):
    result = cli("reply", "--model", str(trained / "model"), "--strategy", "greedy", "hello", "there")
    assert result.returncode == 0, result.stderr
    assert len(result.stdout.strip().splitlines()) == 1 and result.stdout.strip()


def test_chat_reads_stdin_and_answers_each_line(trained):
    result = cli("chat", "--model", str(trained / "model"), stdin="hi\n\nhow are you?\n😀\n")
    assert result.returncode == 0, result.stderr
    lines = result.stdout.strip().splitlines()
    assert len(lines) == 4 and all(line.strip() for line in lines)


def test_evaluate_json_on_messy_text(trained, tmp_path):
    messy = tmp_path / "messy.tsv"
    messy.write_text(
        "Hello THERE!!\tHi, how ARE you? 😀\nwhat's a Zyxwvut?\tno idea, ask 山田\n\t\nemoji only 🎉🎉\t🎉\n"
        "and you?\ti'm fine, thanks.\n",
        encoding="utf-8",
    )
    result = cli("evaluate", "--model", str(trained / "model"), "--pairs", str(messy), "--json")
    assert result.returncode == 0, result.stderr
    report = json.loads(result.stdout)
    assert set(report) >= KEYS
    assert report["pairs"] == 4  # the blank line is skipped
    assert report["unk_rate"] == 0 and report["empty_rate"] == 0
    assert report["perplexity"] > 1
    # only "i'm fine, thanks." is all v1 words (😀, 山田, 🎉 are not); 7 + 5 + 1 + 6 words
    assert report["covered_replies"] == 1 and report["reply_words"] == 19
    assert report["word_perplexity"] > 1 and report["word_perplexity_covered"] > 1
    assert report["device"] == "cpu" and report["compute_type"] == "int8"  # as a CPU worker serves it


def test_chat_reply_evaluate_and_serve_refuse_a_v1_model_with_what_to_do(tiny_v1_model_dir, tmp_path):
    pairs = tmp_path / "pairs.tsv"
    pairs.write_text("hello there\thi, how are you?\n", encoding="utf-8")
    for args in (
        ("reply", "--model", str(tiny_v1_model_dir), "hi"),
        ("chat", "--model", str(tiny_v1_model_dir)),
        ("evaluate", "--model", str(tiny_v1_model_dir), "--pairs", str(pairs), "--json"),
        ("serve", "--models", str(tiny_v1_model_dir), "--port", "0"),
    ):
        result = cli(*args, stdin="hi\n")
        assert result.returncode == 2 and result.stdout == "", (args, result.stderr)
        assert "retired v1 model" in result.stderr, result.stderr
        assert "models/default" in result.stderr and "/banter retrain" in result.stderr
        assert "Traceback" not in result.stderr


GREEDY = {"strategy": "greedy", "min_len": 3, "max_len": 10, "no_repeat_ngram": 2, "repetition_penalty": 1.3}


def test_serve_answers_with_the_trained_model(trained, tmp_path):
    from tests.worker_process import make_models, running

    models = make_models(tmp_path / "models", trained / "model")
    with running(models, tmp_path / "worker.log") as worker:
        request = urllib.request.Request(
            worker.url + "/v1/reply",
            data=json.dumps({"context": ["hello there"], "options": GREEDY}).encode(),
            headers={"Content-Type": "application/json"},
        )
        with urllib.request.urlopen(request, timeout=30) as response:
            body = json.loads(response.read())
    assert body["model_version"] == "default" and body["reply"].strip()
    flags = [f"--{k.replace('_', '-')}={v}" for k, v in GREEDY.items()]  # the worker's [decoding] may differ
    greedy = cli("reply", "--model", str(trained / "model"), *flags, "hello", "there")
    assert greedy.stdout.strip() == body["reply"]  # the worker and the command line decode alike


def test_bad_arguments_are_clear_errors(trained, tmp_path):
    missing = cli("evaluate", "--model", str(tmp_path / "nope"), "--pairs", str(tmp_path / "x.tsv"), "--json")
    assert missing.returncode == 2 and "not found" in missing.stderr
    notab = tmp_path / "bad.tsv"
    notab.write_text("no tab here\n")
    bad = cli("evaluate", "--model", str(trained / "model"), "--pairs", str(notab))
    assert bad.returncode == 2 and "bad.tsv:1" in bad.stderr
    options = cli("reply", "--model", str(trained / "model"), "--beam-size", "0", "hi")
    assert options.returncode == 2 and "beam_size" in options.stderr
    penalty = cli("reply", "--model", str(trained / "model"), "--repetition-penalty", "0.5", "hi")
    assert penalty.returncode == 2 and "repetition_penalty must be between 1 (off) and 3" in penalty.stderr
    for args, message in (
        (("--preset", "huge"), "unknown transformer preset 'huge'"),
        (("--arch", "lstm", "--preset", "tiny"), "--arch lstm trains on a subword tokenizer: add --tokenizer DIR"),
        (("--arch", "lstm", "--preset", "huge", "--tokenizer", str(tmp_path)), "unknown lstm preset 'huge'"),
    ):
        wrong = cli("train", "--out", str(tmp_path / "never"), *args)
        assert wrong.returncode == 2 and message in wrong.stderr, wrong.stderr
    assert not (tmp_path / "never").exists()
