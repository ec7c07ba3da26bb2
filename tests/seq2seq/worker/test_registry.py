"""The version registry with real tiny models: start-up choice, load-warm-swap, refusal, publishing, pruning."""

from __future__ import annotations

import errno
import json
import os
import shutil

import pytest

from seq2seq import model_dir
from seq2seq.worker.registry import (
    ActivationError,
    GateRejected,
    Registry,
    RegistryWriteError,
    UnknownVersion,
    VersionRetired,
)

from .conftest import V1_ACTIVE, V1_CANDIDATE, corrupt_weights, make_models, make_v1_era


def record(root) -> dict:
    return json.loads((root / "registry.json").read_text())


def statuses_in_memory(registry) -> dict:
    return {m.version: m.status for m in registry.list()}


def statuses_on_disk(root) -> dict:
    return {name: entry["status"] for name, entry in record(root)["versions"].items()}


FAILED_GATE = {"passed": False, "reasons": ["base held-out perplexity 5e21 is worse than 30.0 by more than 5%"]}


async def test_start_activates_default_and_records_it(tmp_path, tiny_model_dir):
    root = make_models(tmp_path / "models", tiny_model_dir, "default", "other")
    registry = Registry(root)
    await registry.start()
    assert registry.active == "default"
    assert record(root)["active"] == "default"
    assert {m.version: m.status for m in registry.list()} == {"default": "active", "other": "candidate"}
    assert registry.info("default").metrics["steps"] > 0  # metrics.json travels into the registry
    assert registry.current.engine.reply_batch([["hello"]])[0]


async def test_activate_swaps_and_survives_a_restart(tmp_path, tiny_model_dir):
    root = make_models(tmp_path / "models", tiny_model_dir, "default", "v2")
    registry = Registry(root)
    await registry.start()
    old = registry.current
    info = await registry.activate("v2")
    assert info.status == "active" and registry.active == "v2"
    assert registry.info("default").status == "retired"
    assert old.engine.reply_batch([["still answers"]])[0]  # a batch holding the old model can finish
    again = Registry(root)
    await again.start()
    assert again.active == "v2" and again.info("default").status == "retired"


async def test_a_corrupt_version_is_refused_and_the_active_one_stays(tmp_path, tiny_model_dir):
    root = make_models(tmp_path / "models", tiny_model_dir, "default", "broken", "noengine", "notokenizer")
    corrupt_weights(root / "broken")
    shutil.rmtree(root / "noengine" / "engine")
    (root / "notokenizer" / "engine" / "subword.model").unlink()
    registry = Registry(root)
    await registry.start()
    with pytest.raises(ActivationError, match="payload"):
        await registry.activate("broken")
    with pytest.raises(ActivationError, match="engine"):
        await registry.activate("noengine")
    with pytest.raises(ActivationError, match="subword.model"):
        await registry.activate("notokenizer")
    assert registry.active == "default" and record(root)["active"] == "default"
    assert "payload" in registry.info("broken").error and registry.info("broken").status == "candidate"
    with pytest.raises(UnknownVersion):
        await registry.activate("missing")
    with pytest.raises(ValueError):
        await registry.activate("../default")


async def test_start_falls_back_when_the_recorded_active_version_broke(tmp_path, tiny_model_dir):
    root = make_models(tmp_path / "models", tiny_model_dir, "default", "v2")
    registry = Registry(root)
    await registry.start()
    await registry.activate("v2")
    corrupt_weights(root / "v2")
    again = Registry(root)
    await again.start()
    assert again.active == "default"
    # Exactly one version is active, in memory and on disk alike; the broken one says why it is not.
    assert statuses_in_memory(again) == statuses_on_disk(root) == {"default": "active", "v2": "retired"}
    assert record(root)["active"] == "default" and "invalid payload size" in again.info("v2").error


async def test_a_registry_write_that_fails_changes_nothing(tmp_path, tiny_model_dir, monkeypatch):
    """A full disk while activating: the old model serves on, the file and memory agree, no temp file stays."""
    root = make_models(tmp_path / "models", tiny_model_dir, "default", "v2")
    registry = Registry(root)
    await registry.start()
    before = record(root)

    def disk_full(fd):
        raise OSError(errno.ENOSPC, os.strerror(errno.ENOSPC))

    monkeypatch.setattr(os, "fsync", disk_full)  # the temp file exists, partly written, when the write fails
    with pytest.raises(RegistryWriteError, match="No space left"):
        await registry.activate("v2")
    staged = root / ".tmp-job1"
    shutil.copytree(tiny_model_dir, staged)
    with pytest.raises(RegistryWriteError):
        await registry.add(staged, "v3", "candidate")
    monkeypatch.undo()

    assert registry.active == "default" and registry.current.version == "default"
    assert record(root) == before and statuses_in_memory(registry) == statuses_on_disk(root)
    assert staged.is_dir() and not (root / "v3").exists()  # unpublished: a job's clean-up deletes it
    assert sorted(p.name for p in root.iterdir()) == [".tmp-job1", "default", "registry.json", "v2"]
    await registry.activate("v2")  # with room on the disk again
    assert record(root)["active"] == "v2" and statuses_on_disk(root) == {"default": "retired", "v2": "active"}


async def test_a_restart_keeps_when_the_active_version_was_activated_and_forced(tmp_path, tiny_model_dir, monkeypatch):
    from seq2seq.worker import registry as registry_module

    ticks = iter(f"2026-01-01T00:00:{s:02d}+00:00" for s in range(60))
    monkeypatch.setattr(registry_module, "now_iso", lambda: next(ticks))  # every stamp a different second
    root = make_models(tmp_path / "models", tiny_model_dir, "default")
    registry = Registry(root)
    await registry.start()
    staged = root / ".tmp-job1"
    shutil.copytree(tiny_model_dir, staged)
    await registry.add(staged, "ft-bad", "rejected", gate=FAILED_GATE, parent="default")
    info = await registry.activate("ft-bad", force=True)
    again = Registry(root)
    await again.start()
    assert again.active == "ft-bad"
    assert (again.info("ft-bad").activated, again.info("ft-bad").forced) == (info.activated, info.forced)


async def test_a_version_the_gate_rejected_needs_force_which_is_recorded(tmp_path, tiny_model_dir):
    root = make_models(tmp_path / "models", tiny_model_dir, "default")
    registry = Registry(root)
    await registry.start()
    staged = root / ".tmp-job1"
    shutil.copytree(tiny_model_dir, staged)
    metrics = json.loads((staged / "metrics.json").read_text())
    (staged / "metrics.json").write_text(json.dumps({**metrics, "gate": FAILED_GATE}))
    await registry.add(staged, "ft-bad", "rejected", gate=FAILED_GATE, parent="default")

    with pytest.raises(GateRejected, match="5e21"):
        await registry.activate("ft-bad")
    assert registry.active == "default" and record(root)["active"] == "default"
    info = await registry.activate("ft-bad", force=True)
    assert registry.active == "ft-bad" and info.forced and info.forced == info.activated
    assert record(root)["versions"]["ft-bad"]["forced"] == info.forced
    again = Registry(root)  # a restart keeps the version an operator forced
    await again.start()
    assert again.active == "ft-bad" and again.info("ft-bad").forced == info.forced

    await again.activate("default")
    with pytest.raises(GateRejected):  # retired now, but still what the gate rejected
        await again.activate("ft-bad")
    (root / "registry.json").unlink()  # a lost record does not make it a candidate: its metrics keep the gate
    rebuilt = Registry(root)
    await rebuilt.start()
    assert rebuilt.active == "default" and rebuilt.info("ft-bad").status == "rejected"
    with pytest.raises(GateRejected):
        await rebuilt.activate("ft-bad")


async def test_publish_is_one_rename_and_prune_keeps_the_newest(tmp_path, tiny_model_dir):
    root = make_models(tmp_path / "models", tiny_model_dir, "default")
    registry = Registry(root, keep=2)
    await registry.start()
    for i in range(1, 6):
        staged = root / f".tmp-job{i}"
        shutil.copytree(tiny_model_dir, staged)
        info = await registry.add(staged, f"v{i}", "candidate", parent="default", job=f"job{i}")
        assert info.parent == "default" and not staged.exists()
    with pytest.raises(FileExistsError):
        shutil.copytree(tiny_model_dir, root / ".tmp-dup")
        await registry.add(root / ".tmp-dup", "v1", "candidate")
    await registry.activate("v1")  # the oldest, but active: never pruned
    pruned = await registry.prune()
    assert sorted(pruned) == ["v2", "v3"]
    assert sorted(p.name for p in root.iterdir() if not p.name.startswith(".") and p.is_dir()) == [
        "default",
        "v1",
        "v4",
        "v5",
    ]
    assert sorted(record(root)["versions"]) == ["default", "v1", "v4", "v5"]
    registry.clean_temp()
    assert not list(root.glob(".tmp-*"))


async def test_upgrade_from_v1_retires_its_versions_and_the_shipped_v2_model_serves(
    tmp_path, tiny_model_dir, tiny_v1_model_dir
):
    root = make_v1_era(tmp_path / "models", tiny_model_dir, tiny_v1_model_dir)
    registry = Registry(root)
    await registry.start()
    assert registry.active == "default" and record(root)["active"] == "default"
    assert registry.current.engine.reply_batch([["hello"]])[0]
    for version in (V1_ACTIVE, V1_CANDIDATE):
        info = registry.info(version)
        assert info.status == "retired" and info.error == model_dir.V1_RETIRED
        assert (root / version).is_dir()  # listed and kept on disk (pruned in time like any other)
        with pytest.raises(VersionRetired, match="v1 model: replaced by the v2 engine"):
            await registry.activate(version)
    assert registry.info(V1_ACTIVE).parent == "default"  # its history is kept
    assert registry.info("default").error is None
    again = Registry(root)  # a restart changes nothing
    await again.start()
    assert again.active == "default"
    assert {m.version: m.status for m in again.list()} == {m.version: m.status for m in registry.list()}
