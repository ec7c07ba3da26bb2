"""Upgrading a v1 models folder through a real worker: v1 versions are retired with the reason, the shipped v2
model serves, and a fine-tune of it learns a word it has never seen (new words are new sequences of its pieces)."""

from __future__ import annotations

import asyncio
import json
import time

import aiohttp
import pytest

from seq2seq.engine import copying
from seq2seq.text.subword import SubwordTokenizer

from .conftest import V1_ACTIVE, V1_CANDIDATE, make_v1_era, running

pytestmark = pytest.mark.slow
WORD = "zorbleflux"  # an invented game: in no corpus, and no piece of the tokenizer
QUESTIONS = [
    "what game should we play tonight",
    "what are you playing",
    "any game recommendations",
    "what do you play after work",
    "which game is your favourite",
    "what should i play this weekend",
    "got a good game for me",
    "what are we playing later",
    "what game is everyone talking about",
    "what's the best game right now",
    "what do you do for fun",
    "what's your favourite game",
]
ENDINGS = ["obviously", "of course", "every night", "with friends", "it never gets old", "always", "no contest"]
# 48 distinct pairs (the learning filters drop repeated replies), each reply naming the game.
PAIRS = [
    {
        "query": question + ("?" if k % 2 else ""),
        "reply": f"{WORD} {ENDINGS[(i + k) % len(ENDINGS)]}, {ENDINGS[(3 * i + 5 * k + 1) % len(ENDINGS)]}",
    }
    for i, question in enumerate(QUESTIONS)
    for k in range(4)
]
PROMPTS = [["what game do you like?"], ["what should we play"], ["any plans for tonight?"]]
GREEDY = {"strategy": "greedy"}


@pytest.fixture(scope="module")
def upgraded(tiny_model_dir, tiny_v1_model_dir, tmp_path_factory):
    base = tmp_path_factory.mktemp("upgrade")
    models = make_v1_era(base / "models", tiny_model_dir, tiny_v1_model_dir)
    with running(models, base / "worker.log") as worker:
        yield worker


@pytest.fixture
async def http(upgraded):
    async with aiohttp.ClientSession(base_url=upgraded.url) as session:
        yield session


async def call(http, method, path, **kwargs):
    async with http.request(method, path, **kwargs) as response:
        return response.status, json.loads(await response.read())


async def replies(http) -> list[str]:
    status, body = await call(http, "POST", "/v1/reply", json=[{"context": c, "options": GREEDY} for c in PROMPTS])
    assert status == 200, body
    return [r["reply"] for r in body]


async def test_v1_versions_are_retired_with_the_reason_and_the_shipped_v2_model_serves(http, upgraded):
    status, body = await call(http, "GET", "/readyz")
    assert status == 200 and body["model_version"] == "default"
    status, body = await call(http, "GET", "/v1/models")
    versions = {v["version"]: v for v in body["versions"]}
    assert body["active"] == "default" and versions["default"]["status"] == "active"
    for name in (V1_ACTIVE, V1_CANDIDATE):
        assert versions[name]["status"] == "retired"
        assert versions[name]["error"] == "v1 model: replaced by the v2 engine"
    assert versions[V1_ACTIVE]["parent"] == "default"  # the record of the v1 era is kept, not rewritten
    status, body = await call(http, "POST", f"/v1/models/{V1_ACTIVE}/activate")
    assert status == 409 and "v1 model: replaced by the v2 engine" in body["error"]["message"]
    assert (await call(http, "GET", "/readyz"))[1]["model_version"] == "default"
    assert all(r.strip() for r in await replies(http))
    assert f"model version {V1_ACTIVE} is a v1 model: retired" in upgraded.log()


async def test_a_fine_tune_keeps_the_tokenizer_and_learns_a_new_word(http, upgraded, tiny_model_dir):
    tokenizer = SubwordTokenizer.load(tiny_model_dir / "engine")
    assert len(tokenizer.encode_pieces(WORD)) > 1  # not a piece: it can only be learned as a sequence of pieces
    before = await replies(http)
    assert not any(WORD in r for r in before)

    # A tiny model forgets fast: the gate's margin is opened so the candidate is activated and served.
    options = {"epochs": 30, "learning_rate": 0.003, "replay_fraction": 0.5, "margin": 1.0, "version": "ft-new-word"}
    status, job = await call(http, "POST", "/v1/jobs/finetune", json={"pairs": PAIRS, "options": options})
    assert status == 202, job
    deadline = time.monotonic() + 600
    while job["state"] not in ("succeeded", "failed", "cancelled") and time.monotonic() < deadline:
        await asyncio.sleep(1.0)
        job = (await call(http, "GET", f"/v1/jobs/{job['id']}"))[1]
    assert job["state"] == "succeeded" and job["outcome"] == "activated", job
    assert job["metrics"]["gate"]["new_after"] < job["metrics"]["gate"]["new_before"]

    candidate = upgraded.models / "ft-new-word"
    assert (candidate / "engine" / "subword.model").read_bytes() == (
        tiny_model_dir / "engine" / "subword.model"
    ).read_bytes()
    # The word is kept as the server's own, for the engine to copy when a conversation names it.
    assert tuple(tokenizer.encode_pieces(WORD)) in copying.read_words(candidate / "engine")
    status, body = await call(http, "GET", "/readyz")
    assert body["model_version"] == "ft-new-word"
    after = await replies(http)
    assert any(WORD in r for r in after), after
