"""seq2seq.protocol: request validation, version names, and that the bot side imports no model code."""

from __future__ import annotations

import subprocess
import sys

import pytest

from seq2seq.protocol import (
    MAX_BATCH_ITEMS,
    MAX_TURNS,
    FinetuneOptions,
    JobInfo,
    ReplyRequest,
    ReplyResult,
    pair_from_json,
    parse_reply_body,
    validate_version,
)

from .conftest import REPO


def test_protocol_and_client_import_without_numpy_or_keras():
    code = (
        "import sys, seq2seq.protocol, bot.worker.client; "
        "heavy = [m for m in sys.modules if m.split('.')[0] in ('numpy', 'keras', 'tensorflow', 'jax', 'torch')]; "
        "print(heavy); sys.exit(1 if heavy else 0)"
    )
    result = subprocess.run([sys.executable, "-c", code], cwd=REPO, capture_output=True, text=True, timeout=60)
    assert result.returncode == 0, result.stdout + result.stderr


@pytest.mark.parametrize("name", ["default", "ft-20250101-120000-abc123", "v1.2_final", "A" * 64])
def test_good_version_names(name):
    assert validate_version(name) == name


@pytest.mark.parametrize("name", ["", "..", "../etc", "a/b", "a..b", ".hidden", "a b", "é", "A" * 65, None, 3])
def test_bad_version_names(name):
    with pytest.raises(ValueError):
        validate_version(name)


@pytest.mark.parametrize("name", ["registry.json", "registry.json.tmp", "REGISTRY.JSON", "v2.tmp", "x.Json"])
def test_the_workers_own_file_names_are_reserved(name):
    with pytest.raises(ValueError, match="reserved"):
        validate_version(name)
    with pytest.raises(ValueError, match="reserved"):
        FinetuneOptions.from_json({"version": name})


def test_reply_request_round_trip_and_list_body():
    request = ReplyRequest(["hi", "how are you?"], {"strategy": "greedy"}, 2.5)
    assert ReplyRequest.from_json(request.to_json()) == request
    requests, is_list = parse_reply_body([request.to_json(), {"context": ["yo"]}])
    assert is_list and [r.context for r in requests] == [["hi", "how are you?"], ["yo"]]
    requests, is_list = parse_reply_body({"context": ["yo"]})
    assert not is_list and requests[0].options is None


@pytest.mark.parametrize(
    "body, message",
    [
        ({"context": []}, "non-empty list"),
        ({"context": "hello"}, "non-empty list"),
        ({"context": ["ok", 3]}, r"context\[1\] must be a string"),
        ({"context": ["x"] * (MAX_TURNS + 1)}, "turns"),
        ({"context": ["x" * 5000]}, "longer than"),
        ({"context": ["hi"], "options": [1]}, "'options' must be an object"),
        ({"context": ["hi"], "timeout_s": -1}, "timeout_s"),
        ({"context": ["hi"], "timeout_s": True}, "timeout_s"),
        ({"context": ["hi"], "extra": 1}, "unknown fields: extra"),
        ("hello", "expected an object"),
        ([], "empty list"),
        ([{"context": ["a"]}] * (MAX_BATCH_ITEMS + 1), "at most"),
    ],
)
def test_reply_body_errors_name_the_problem(body, message):
    with pytest.raises(ValueError, match=message):
        parse_reply_body(body)


def test_finetune_options_strict_json_and_coerced_query():
    assert FinetuneOptions.from_json({"epochs": 1, "max_steps": 5}).epochs == 1.0
    assert FinetuneOptions.from_query({"max_steps": "5", "activate": "false", "margin": "0.1"}) == FinetuneOptions(
        max_steps=5, activate=False, margin=0.1
    )
    with pytest.raises(ValueError, match="unknown fine-tune options: lr"):
        FinetuneOptions.from_json({"lr": 1})
    with pytest.raises(ValueError, match="max_steps must be an integer"):
        FinetuneOptions.from_json({"max_steps": "5"})
    with pytest.raises(ValueError, match="activate must be true or false"):
        FinetuneOptions.from_query({"activate": "maybe"})
    with pytest.raises(ValueError, match="margin must be in"):
        FinetuneOptions.from_json({"margin": 2})
    assert FinetuneOptions.from_json({"distill": 0}).distill == 0.0  # no distillation: plain fine-tuning
    with pytest.raises(ValueError, match=r"distill must be in \[0, 1\)"):
        FinetuneOptions.from_json({"distill": 1})
    with pytest.raises(ValueError, match="version names"):
        FinetuneOptions.from_json({"version": "../evil"})


def test_pairs_are_checked():
    assert pair_from_json({"query": "hi", "reply": "yo", "context": ["a", "b"]}, "x") == {
        "query": "hi",
        "reply": "yo",
        "context": "b",
    }
    for bad in (
        {"query": "hi"},
        {"query": "", "reply": "x"},
        {"query": 1, "reply": "x"},
        ["hi", "yo"],
        {"query": "a", "reply": "b", "other": 1},
    ):
        with pytest.raises(ValueError, match="line 3"):
            pair_from_json(bad, "line 3")


def test_response_types_ignore_fields_a_newer_worker_adds():
    result = ReplyResult.from_json({"reply": "hey", "model_version": "v1", "latency_ms": 1.0, "new_field": 1})
    assert result.reply == "hey" and result.batch_size == 1
    job = JobInfo.from_json({"id": "abc", "state": "cancelled", "later": True})
    assert job.done and not JobInfo("x", "running").done
