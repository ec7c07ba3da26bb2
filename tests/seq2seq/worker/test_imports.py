"""Fine-tune pairs by `path`: only regular files inside the import folder, symlinks resolved, reads bounded."""

from __future__ import annotations

import json
import os
from pathlib import Path

import aiohttp
import pytest

from seq2seq.worker.imports import ImportRefused, pairs_from_import, read_import

from .conftest import make_models

PAIRS = "".join(json.dumps({"query": f"question {i}", "reply": f"answer {i}"}) + "\n" for i in range(3))


@pytest.fixture
def folder(tmp_path):
    inside = tmp_path / "imports"
    inside.mkdir()
    (inside / "pairs.jsonl").write_text(PAIRS)
    (inside / "sub").mkdir()
    (inside / "sub" / "more.tsv").write_text("hello\thi there\n")
    (tmp_path / "secret.tsv").write_text("not\tyours\n")
    return inside


def test_without_an_import_folder_no_path_is_read(folder):
    with pytest.raises(ImportRefused, match="import_dir"):
        read_import(None, str(folder / "pairs.jsonl"))


def test_files_inside_are_read_by_absolute_or_relative_path(folder):
    assert [p["reply"] for p in pairs_from_import(folder, "pairs.jsonl")] == ["answer 0", "answer 1", "answer 2"]
    more = pairs_from_import(folder, str(folder / "sub" / "more.tsv"))
    assert more == [{"query": "hello", "reply": "hi there", "group": "more.tsv:1"}]  # its line: its conversation
    (folder / "link.jsonl").symlink_to(folder / "pairs.jsonl")  # a symlink that stays inside is fine
    assert len(pairs_from_import(folder, "link.jsonl")) == 3


@pytest.mark.parametrize("raw", ["/etc/shadow", "/etc/passwd", "../secret.tsv", "sub/../../secret.tsv", "/nonexistent"])
def test_paths_outside_are_refused_without_saying_whether_they_exist(folder, raw):
    with pytest.raises(ImportRefused, match="outside the import folder"):
        read_import(folder, raw)


def test_symlinks_are_resolved(folder, tmp_path):
    (folder / "escape.tsv").symlink_to(tmp_path / "secret.tsv")
    (folder / "etc").symlink_to("/etc", target_is_directory=True)
    for raw in ("escape.tsv", "etc/passwd", str(folder / "escape.tsv")):
        with pytest.raises(ImportRefused, match="leads outside"):
            read_import(folder, raw)


def test_only_regular_files(folder):
    os.mkfifo(folder / "pipe.tsv")  # opening it must not hang, reading it must not happen
    for raw, message in (("pipe.tsv", "not a regular file"), ("sub", "not a regular file"), ("nope.tsv", "no such")):
        with pytest.raises(ValueError, match=message):
            read_import(folder, raw)
    for raw in ("", "  ", None, 3, "a\0b"):
        with pytest.raises(ValueError, match="non-empty string"):
            read_import(folder, raw)


def test_reads_stop_at_the_limit_whatever_the_size_says(folder):
    data = PAIRS.encode()
    assert read_import(folder, "pairs.jsonl", limit=len(data)) == data
    with pytest.raises(ValueError, match="over the"):
        read_import(folder, "pairs.jsonl", limit=len(data) - 1)
    # /proc files report st_size 0 and may be endless (pagemap: 8 bytes per page of the address space).
    proc = os.path.realpath("/proc/self")
    assert os.stat(f"{proc}/pagemap").st_size == 0
    with pytest.raises(ValueError, match="over the 4096-byte limit"):
        read_import(Path(proc), "pagemap", limit=4096)


async def call(http, path, body) -> tuple[int, dict]:
    async with http.post(path, json=body) as response:
        return response.status, await response.json()


async def test_the_worker_reads_only_its_import_folder(folder, tmp_path, tiny_model_dir, start_worker):
    (folder / "escape.tsv").symlink_to(tmp_path / "secret.tsv")
    worker = start_worker(
        make_models(tmp_path / "models", tiny_model_dir), env={"BANTER_WORKER_IMPORT_DIR": str(folder)}
    )
    async with aiohttp.ClientSession(base_url=worker.url) as http:
        status, body = await call(http, "/v1/jobs/finetune", {"path": "pairs.jsonl"})
        assert status == 400 and "3 pairs: a fine-tune needs at least 10" in body["error"]["message"]  # read
        for raw in ("/etc/passwd", "escape.tsv", "../secret.tsv", "/proc/self/pagemap"):
            status, body = await call(http, "/v1/jobs/finetune", {"path": raw})
            assert status == 403 and "outside the import folder" in body["error"]["message"], (raw, body)
        status, body = await call(http, "/v1/jobs/finetune", {"path": "sub"})
        assert status == 400 and "not a regular file" in body["error"]["message"]
