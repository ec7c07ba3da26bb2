"""bot/storage/export.py through Storage: new pairs, replay, one file with conversations, and the filters."""

import json
from dataclasses import replace

from sqlalchemy.ext.asyncio import create_async_engine

from bot.storage import LearningFilters, RunStatus
from bot.storage import export as export_module
from bot.storage.engine import normalise_url
from bot.storage.models import OptOut, utcnow


def read(path):
    return [json.loads(line) for line in path.read_text(encoding="utf-8").splitlines()]


def conversation(msg, start, people=(100, 101), n=6, prefix="c"):
    """n alternating turns one second apart, message ids start..start+n-1."""
    # Conversations sit far apart in time, so none continues another.
    return [msg(start + k, people[k % 2], f"{prefix}{start} turn {k}", start * 100 + k) for k in range(n)]


def learning(**changes):
    return replace(LearningFilters(), **changes)


async def succeed(storage, out, **kwargs):
    run = await storage.start_training_run()
    counts = await storage.export_training_pairs(out, run_id=run, **kwargs)
    await storage.finish_training_run(run, RunStatus.SUCCEEDED)
    return counts


async def test_first_export_has_every_pair_then_only_new_ones_plus_replay(storage, msg, tmp_path):
    no_cap = learning(max_share_per_user=None)
    for c in range(20):
        await storage.log_messages(conversation(msg, 1000 + c * 10, people=(100 + c, 200 + c)))
    first = await succeed(storage, tmp_path / "1", filters=no_cap)
    assert (first.new, first.replay) == (100, 0)
    assert first.pairs == 100 and len(read(first.path)) == 100
    assert sorted(p.name for p in (tmp_path / "1").iterdir()) == ["pairs.jsonl"]  # one file: the worker splits

    await storage.log_messages(conversation(msg, 5000, people=(300, 301), n=41))
    second = await succeed(storage, tmp_path / "2", filters=no_cap)
    assert second.new == 40
    # replay_fraction 0.5 of 40 new = about 20 of the 100 old, sampled by hash buckets.
    assert 8 <= second.replay <= 35
    lines = read(second.path)
    old = {(row["query"], row["reply"]) for row in read(first.path)}
    assert sum((row["query"], row["reply"]) in old for row in lines) == second.replay


async def test_export_is_deterministic_and_every_line_carries_its_conversation(storage, msg, tmp_path):
    for c in range(40):
        await storage.log_messages(conversation(msg, 1000 + c * 10, people=(100 + c, 200 + c)))
    a = await storage.export_training_pairs(tmp_path / "a", seed=7)
    b = await storage.export_training_pairs(tmp_path / "b", seed=7)
    assert a.path.read_bytes() == b.path.read_bytes() and a.pairs > 0
    # The worker holds out whole conversations by "group": a conversation's pairs share one, others differ.
    groups: dict[str, set[str]] = {}
    for row in read(a.path):
        groups.setdefault(row["group"], set()).add(row["query"].split(" turn ")[0])
    assert len(groups) == 40 and all(len(starts) == 1 for starts in groups.values())


async def test_filters_length_blocklist_and_opted_out(storage, msg, tmp_path, db_url):
    await storage.log_messages(
        [
            msg(1, 100, "hello friend"),
            msg(2, 101, "x", 1),  # reply too short
            msg(3, 100, "a" * 400, 500),
            msg(4, 101, "too long a query", 501),
            msg(5, 100, "what a Darn shame", 1000),
            msg(6, 101, "indeed", 1001),  # blocked word, any case
            msg(7, 100, "darnation is fine", 1500),
            msg(8, 101, "it is", 1501),
            msg(9, 102, "from someone", 2000),
            msg(10, 103, "who opted out", 2001),
        ]
    )
    # An opt-out recorded by another process, before any purge: the export must still skip it.
    engine = create_async_engine(normalise_url(db_url))
    async with engine.begin() as conn:
        await conn.execute(OptOut.__table__.insert().values(user_id=103, created_at=utcnow()))
    await engine.dispose()
    filters = learning(blocklist=("darn",), max_share_per_user=None)
    counts = await storage.export_training_pairs(tmp_path, filters=filters)
    queries = [row["query"] for row in read(counts.path)]
    assert "darnation is fine" in queries
    assert "what a Darn shame" not in queries and "indeed" not in queries
    assert all(len(q) <= 300 for q in queries) and "hello friend" not in queries
    assert "from someone" not in queries
    assert counts.dropped == 1  # the blocked pair; the others never left the database


async def test_no_user_dominates_the_export(storage, msg, tmp_path):
    # User 100 writes every reply of 30 conversations; ten others reply once each.
    for c in range(30):
        await storage.log_messages(
            [msg(1000 + c * 2, 400 + c, f"question {c}", c * 300), msg(1001 + c * 2, 100, f"answer {c}", c * 300 + 1)]
        )
    for u in range(10):
        await storage.log_messages(
            [
                msg(2000 + u * 2, 500 + u, f"ask {u}", 20000 + u * 300),
                msg(2001 + u * 2, 600 + u, f"reply {u}", 20000 + u * 300 + 1),
            ]
        )
    counts = await storage.export_training_pairs(tmp_path, filters=learning(max_share_per_user=0.2))
    rows = read(counts.path)
    heavy = sum(row["reply"].startswith("answer") for row in rows)
    assert counts.dropped == 40 - len(rows) and heavy < 30
    assert heavy <= 0.2 * 40 + 5  # capped at about 20% of the candidates (hash sampling)


async def test_export_streams_in_chunks_with_unicode_intact(storage, msg, tmp_path, monkeypatch):
    monkeypatch.setattr(export_module, "CHUNK", 3)
    texts = ["مرحبا كيف حالك", "😂 lol", "שלום", "ça va?", "日本語のテキスト", "ok 👍"] * 3
    await storage.log_messages([msg(i + 1, 100 + i % 2, f"{t} {i}", i) for i, t in enumerate(texts)])
    counts = await storage.export_training_pairs(tmp_path, filters=learning(max_share_per_user=None))
    rows = read(counts.path)
    assert len(rows) == counts.new == 17
    assert rows[0]["query"] == "مرحبا كيف حالك 0" and rows[0]["reply"] == "😂 lol 1"
    assert not list(tmp_path.glob(".*.tmp"))  # temporary files renamed into place


async def test_lines_are_seq2seq_fine_tune_pairs_with_context_and_group(storage, msg, tmp_path):
    await storage.log_messages([msg(1, 100, "hi all"), msg(2, 101, "hey you", 1), msg(3, 100, "how are things", 2)])
    counts = await storage.export_training_pairs(tmp_path)
    first, second = read(counts.path)
    assert first.keys() == {"query", "reply", "group"}  # no turn before "hi all"
    assert second == {"query": "hey you", "reply": "how are things", "context": "hi all", "group": first["group"]}
