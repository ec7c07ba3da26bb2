"""Deleted text leaves the disk: the SQLite file and its write-ahead log are scanned byte by byte."""

from pathlib import Path

import pytest

from bot.storage import Storage, StorageConfig

from .conftest import CHANNEL, GUILD, OTHER_CHANNEL, OTHER_GUILD, M

ALICE, BOB = 7001, 7002
SECRET = "alice's zebra passphrase"
KEPT = "bob keeps talking"


@pytest.fixture
async def sqlite_storage(tmp_path):
    store = await Storage.open(config=StorageConfig(url=f"sqlite+aiosqlite:///{tmp_path / 'banter.db'}"))
    await store.update_guild_settings(GUILD, learning_channels=[CHANNEL])
    await store.update_guild_settings(OTHER_GUILD, learning_channels=[OTHER_CHANNEL])
    yield store
    await store.close()


def copies_on_disk(folder: Path, text: str) -> dict[str, int]:
    """How often `text` occurs in each of the database's files (the -wal and -shm included)."""
    needle = text.encode()
    return {f.name: f.read_bytes().count(needle) for f in sorted(folder.glob("banter.db*"))}


async def converse(storage: Storage, msg) -> None:
    """Alice and Bob alternate in GUILD (Alice's words in messages and as pairs' query, reply and
    context); Bob alone also writes in OTHER_GUILD."""
    await storage.log_messages(
        [msg(i, ALICE if i % 2 else BOB, f"{SECRET} {i}" if i % 2 else f"{KEPT} {i}", i) for i in range(1, 41)]
    )
    await storage.log_messages(
        [msg(100 + i, BOB, f"{KEPT} elsewhere {i}", i, guild=OTHER_GUILD, channel=OTHER_CHANNEL) for i in range(3)]
    )


async def forget(storage):
    await storage.forget_user(ALICE)


async def opt_out(storage):
    await storage.opt_out(ALICE)


async def purge(storage):
    await storage.purge_guild(GUILD)


async def delete_alices(storage):
    await storage.apply_bulk_delete([M(i) for i in range(1, 41, 2)])


async def edit_alices(storage):
    for i in range(1, 41, 2):
        assert await storage.apply_edit(M(i), f"edited away {i}")


@pytest.mark.parametrize("erase", [forget, opt_out, purge, delete_alices, edit_alices])
async def test_erased_text_is_in_neither_the_database_file_nor_its_wal(sqlite_storage, msg, tmp_path, erase):
    await converse(sqlite_storage, msg)
    assert sum(copies_on_disk(tmp_path, SECRET).values()) > 0  # the scan does see text (in the -wal)
    await erase(sqlite_storage)
    # Still open (a checkpoint at close would hide the bug): what is on disk right now.
    left = copies_on_disk(tmp_path, SECRET)
    assert "banter.db" in left and not any(left.values()), left
    assert sum(copies_on_disk(tmp_path, f"{KEPT} elsewhere").values()) > 0  # the rest is still there
    # And it still works: the next message is stored.
    await sqlite_storage.log_message(msg(200, BOB, "after the erasure", 100, guild=OTHER_GUILD, channel=OTHER_CHANNEL))
    assert sum(copies_on_disk(tmp_path, "after the erasure").values()) > 0
