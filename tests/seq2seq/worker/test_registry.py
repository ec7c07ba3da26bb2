"""The version registry with real tiny models: start-up choice, load-warm-swap, refusal, publishing, pruning."""

from __future__ import annotations

import json
import shutil

import pytest

from seq2seq import model_dir
from seq2seq.worker.registry import ActivationError, Registry, UnknownVersion, VersionRetired

from .conftest import V1_ACTIVE, V1_CANDIDATE, corrupt_weights, make_models, make_v1_era


def record(root) -> dict:
    return json.loads((root / "registry.json").read_text())


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
