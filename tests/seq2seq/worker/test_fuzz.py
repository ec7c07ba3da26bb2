"""Property-based fuzz of /v1/reply and /v1/jobs/finetune on a real worker: no 5xx, no crash, bounded memory.

Bounded for CI: a few hundred generated requests in all (max_examples), no per-example deadline. A 504 counts
as a failure too, unless the request itself set a deadline under two seconds (the worker then keeps its word).
"""

from __future__ import annotations

import http.client
import json
import urllib.parse
from dataclasses import fields

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from seq2seq.engine.decoding import STRATEGIES
from seq2seq.protocol import FinetuneOptions

from .conftest import WorkerProc, make_models
from .test_uploads import memory_kib

FUZZ = settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.too_slow], derandomize=True)
HEAVIEST = {"strategy": "sample_rank", "beam_size": 32, "max_len": 100, "min_len": 100, "no_repeat_ngram": 0}

TEXT = st.one_of(st.text(max_size=40), st.sampled_from(["", " ", "\ud800", "x" * 4001, "\u2028", "\x00", "<@1>"]))
JSONISH = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats(allow_nan=True, allow_infinity=True) | TEXT,
    lambda inner: st.lists(inner, max_size=4) | st.dictionaries(TEXT, inner, max_size=4),
    max_leaves=12,
)
VALUE = st.one_of(
    st.integers(-3, 120),
    st.integers(-(2**70), 2**70),
    st.floats(allow_nan=True, allow_infinity=True),
    st.sampled_from([*STRATEGIES, "nope"]),
    st.booleans(),
    st.none(),
    JSONISH,
)
# Each option mostly in its range (so most requests decode, over every combination), sometimes anything at all.
IN_RANGE = {
    "strategy": st.sampled_from(STRATEGIES),
    "beam_size": st.integers(1, 32),
    "max_len": st.integers(1, 100),
    "min_len": st.integers(1, 8),
    "length_penalty": st.floats(0, 3),
    "no_repeat_ngram": st.sampled_from([0, 2, 3, 10]),
    "temperature": st.floats(0.01, 5),
    "top_k": st.integers(0, 100_000),
    "top_p": st.floats(0.001, 1),
    "anti_lm": st.floats(0, 1),
    "anti_lm_steps": st.integers(1, 100),
    "repetition_penalty": st.floats(1, 3),
    "content_repeat_penalty": st.floats(0, 10),
    "copy_hypotheses": st.integers(0, 32),
    "seed": st.one_of(st.none(), st.integers(0, 2**63 - 1)),
}
DECODE_OPTIONS = st.fixed_dictionaries(
    {}, optional={name: st.one_of(values, values, values, VALUE) for name, values in IN_RANGE.items()}
)
TURN = st.one_of(st.text(max_size=60), st.text(max_size=60), TEXT)
WELL_FORMED = st.fixed_dictionaries(
    {"context": st.lists(TURN, min_size=1, max_size=4)},
    optional={"options": DECODE_OPTIONS, "timeout_s": st.floats(0.5, 30)},
)
HOSTILE = st.fixed_dictionaries(
    {"context": st.one_of(st.lists(TEXT, max_size=4), JSONISH)},
    optional={
        "options": st.one_of(st.dictionaries(st.sampled_from([*IN_RANGE, "bogus"]), VALUE, max_size=6), JSONISH),
        "timeout_s": st.one_of(st.floats(allow_nan=True, allow_infinity=True), JSONISH),
        "extra": JSONISH,
    },
)
REQUEST = st.one_of(WELL_FORMED, WELL_FORMED, WELL_FORMED, WELL_FORMED, HOSTILE)
REPLY_BODY = st.one_of(
    REQUEST.map(json.dumps),
    REQUEST.map(json.dumps),
    st.lists(REQUEST, min_size=1, max_size=4).map(json.dumps),
    st.lists(REQUEST, max_size=4).map(json.dumps),
    JSONISH.map(json.dumps),
    st.binary(max_size=200),
)

PAIR = st.one_of(
    st.fixed_dictionaries(
        {"query": TEXT, "reply": TEXT}, optional={"context": st.one_of(TEXT, st.lists(TEXT)), "group": JSONISH}
    ),
    JSONISH,
)
FINETUNE_NAMES = st.sampled_from([f.name for f in fields(FinetuneOptions)] + ["bogus"])
FINETUNE_JSON = st.fixed_dictionaries(
    {},
    optional={
        "pairs": st.one_of(st.lists(PAIR, max_size=9), JSONISH),  # fewer than 10 pairs: no job is ever started
        "path": st.one_of(TEXT.filter(lambda p: p.strip() not in ("", ".") and "/" not in p), JSONISH),
        "options": st.one_of(st.dictionaries(FINETUNE_NAMES, VALUE, max_size=5), JSONISH),
        "extra": JSONISH,
    },
)
JSONL_LINE = st.one_of(PAIR.map(lambda p: json.dumps(p).encode()), st.binary(max_size=60), st.just(b"[" * 5000))


def ask(port: int, path: str, body: bytes, content_type: str) -> tuple[int, dict]:
    connection = http.client.HTTPConnection("127.0.0.1", port, timeout=60)
    try:
        connection.request("POST", path, body=body, headers={"Content-Type": content_type})
        response = connection.getresponse()
        raw = response.read()
    finally:
        connection.close()
    answer = json.loads(raw)  # every answer is JSON, errors included
    assert response.status < 300 or isinstance(answer["error"]["message"], str)
    return response.status, answer


def deadline_asked(body: bytes) -> float:
    """The shortest deadline the request itself set, if it parses as one."""
    try:
        data = json.loads(body)
    except ValueError:
        return float("inf")
    items = data if isinstance(data, list) else [data]
    asked = [i["timeout_s"] for i in items if isinstance(i, dict) and isinstance(i.get("timeout_s"), (int, float))]
    return min(asked, default=float("inf"))


@pytest.fixture(scope="module")
def fuzzed(tiny_model_dir, tmp_path_factory):
    base = tmp_path_factory.mktemp("fuzz")
    worker = WorkerProc(make_models(base / "models", tiny_model_dir), base / "worker.log")
    try:
        worker.wait_ready()
        # The costliest request there is, once: the decoder's buffers are then as large as they get.
        body = json.dumps([{"context": ["warm up"], "options": HEAVIEST}] * 8).encode()
        assert ask(worker.port, "/v1/reply", body, "application/json")[0] == 200
        yield worker
    finally:
        worker.stop()


def assert_healthy(worker: WorkerProc, rss_before_kib: int) -> None:
    assert worker.proc.poll() is None, worker.log()[-3000:]
    grown_mib = (memory_kib(worker.proc.pid)["VmRSS"] - rss_before_kib) / 1024
    assert grown_mib < 64, grown_mib
    assert "Traceback" not in worker.log() and "unexpected error" not in worker.log(), worker.log()[-3000:]


def test_reply_fuzz(fuzzed):
    rss_before = memory_kib(fuzzed.proc.pid)["VmRSS"]

    @FUZZ
    @given(body=REPLY_BODY)
    def one(body):
        raw = body.encode("utf-8", "surrogatepass") if isinstance(body, str) else body
        status, answer = ask(fuzzed.port, "/v1/reply", raw, "application/json")
        if status == 504:
            assert deadline_asked(raw) < 2.0, answer
        else:
            assert status < 500, answer

    one()
    assert_healthy(fuzzed, rss_before)


def test_finetune_fuzz(fuzzed):
    rss_before = memory_kib(fuzzed.proc.pid)["VmRSS"]

    @FUZZ
    @given(
        body=st.one_of(
            FINETUNE_JSON.map(lambda d: ("json", json.dumps(d).encode("utf-8", "surrogatepass"), {})),
            JSONISH.map(lambda d: ("json", json.dumps(d).encode("utf-8", "surrogatepass"), {})),
            st.tuples(
                st.lists(JSONL_LINE, max_size=9).map(b"\n".join),
                # The query stays within aiohttp's 8,190-byte request line: past it the HTTP parser answers
                # before the worker sees the request (test_an_over_long_request_line_is_a_400 covers that).
                st.dictionaries(FINETUNE_NAMES, TEXT.filter(lambda t: "\ud800" not in t), max_size=4).filter(
                    lambda q: len(urllib.parse.urlencode(q)) < 8000
                ),
            ).map(lambda t: ("jsonl", t[0], t[1])),
        )
    )
    def one(body):
        kind, raw, query = body
        path = "/v1/jobs/finetune" + ("?" + urllib.parse.urlencode(query) if query else "")
        status, answer = ask(fuzzed.port, path, raw, "application/x-ndjson" if kind == "jsonl" else "application/json")
        assert 400 <= status < 500, answer  # fewer than ten pairs, or something wrong: never a job, never a 5xx

    one()
    assert_healthy(fuzzed, rss_before)


def test_an_over_long_request_line_is_a_400_and_the_worker_lives_on(fuzzed):
    """aiohttp's parser refuses a request line over 8,190 bytes itself (plain text, before any handler)."""
    connection = http.client.HTTPConnection("127.0.0.1", fuzzed.port, timeout=60)
    try:
        connection.request("POST", "/v1/jobs/finetune?epochs=" + "x" * 9000, body=b"", headers={})
        response = connection.getresponse()
        response.read()
    finally:
        connection.close()
    assert response.status == 400
    assert_healthy(fuzzed, memory_kib(fuzzed.proc.pid)["VmRSS"])
