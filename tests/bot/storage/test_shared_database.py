"""Several processes on one database (bot shards): each Storage here stands for one process."""

import asyncio
import os
import signal
import subprocess
import sys
import textwrap
from pathlib import Path

import bot
from bot.storage import NotLogged

from .conftest import M

CHECKOUT = str(Path(bot.__file__).resolve().parent.parent)

ALICE, BOB, CAROL = 7001, 7002, 7003


async def test_an_opt_out_in_one_process_stops_logging_in_another(storage, msg, reopen, scan):
    other = await reopen()
    assert (await other.log_message(msg(1, ALICE, "before opting out"))).stored
    await storage.opt_out(ALICE)
    result = await other.log_message(msg(2, ALICE, "after opting out elsewhere", 1))
    assert not result.stored and result.reason == NotLogged.OPTED_OUT
    assert await scan("opting out") == {}
    assert other.is_opted_out(ALICE)  # and its cache has learnt it


async def test_an_opt_in_in_one_process_resumes_logging_in_another(storage, msg, reopen):
    await storage.opt_out(ALICE)
    other = await reopen()  # starts knowing Alice opted out
    assert other.is_opted_out(ALICE)
    await storage.opt_in(ALICE)
    assert (await other.log_message(msg(1, ALICE, "back again"))).stored
    assert not other.is_opted_out(ALICE)


async def test_forgetting_in_one_process_reaches_the_channel_tail_another_remembers(storage, msg, reopen, scan):
    other = await reopen()  # logs CHANNEL: its last message is Alice's
    await other.log_messages([msg(1, BOB, "bob starts"), msg(2, ALICE, "alice's last words", 1)])
    await storage.forget_user(ALICE)
    result = await other.log_message(msg(3, CAROL, "carol answers nobody now", 2))
    assert result.stored and result.pair_kind is None
    assert await scan("alice's last words") == {} and await scan(M(2)) == {}


async def test_forgetting_in_one_process_reaches_the_context_another_remembers(storage, msg, reopen, scan):
    other = await reopen()  # CHANNEL's tail answers Alice: her words would be the next pair's context
    await other.log_messages([msg(1, ALICE, "alice asks something"), msg(2, BOB, "bob answers alice", 1)])
    await storage.forget_user(ALICE)
    result = await other.log_message(msg(3, CAROL, "carol follows bob", 2))
    assert result.stored and result.pair_kind is not None
    data = await other.export_user_data(CAROL)
    [pair] = data["pairs"]
    assert (pair["query_text"], pair["context_text"], pair["context_message_id"]) == ("bob answers alice", None, None)
    assert await scan("alice asks") == {} and await scan(M(1)) == {}


async def test_a_lock_is_held_by_one_process_at_a_time(storage, reopen):
    other = await reopen()
    assert not await other.lock_held("finetune")
    async with storage.exclusive("finetune") as held:
        assert held
        async with other.exclusive("finetune") as also:
            assert not also
        assert await other.lock_held("finetune") and await storage.lock_held("finetune")
        async with other.exclusive("another name") as unrelated:
            assert unrelated
    assert not await other.lock_held("finetune")
    async with other.exclusive("finetune") as held:
        assert held


async def python(script: str, *args: str) -> asyncio.subprocess.Process:
    """A Python process of its own (Alembic keeps global state: migrations cannot race in one process)."""
    return await asyncio.create_subprocess_exec(
        sys.executable,
        "-c",
        textwrap.dedent(script),
        *args,
        stdin=subprocess.PIPE,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        env={**os.environ, "PYTHONPATH": CHECKOUT},
    )


HOLDER = """
import asyncio, sys
from bot.storage import Storage, StorageConfig

async def main():
    store = await Storage.open(config=StorageConfig(url=sys.argv[1]))
    async with store.exclusive("finetune") as held:
        print("held" if held else "refused", flush=True)
        await asyncio.sleep(600)

asyncio.run(main())
"""


async def test_a_lock_goes_with_a_process_killed_while_holding_it(storage, config):
    proc = await python(HOLDER, config.url)
    try:
        assert (await asyncio.wait_for(proc.stdout.readline(), 60)) == b"held\n"
        async with storage.exclusive("finetune") as held:
            assert not held
    finally:
        proc.send_signal(signal.SIGKILL)
        await proc.wait()
    async with storage.exclusive("finetune") as held:
        assert held


STARTER = """
import asyncio, sys
from bot.storage import Storage, StorageConfig

async def main():
    print("ready", flush=True)
    sys.stdin.readline()  # all start migrating at once
    store = await Storage.open(config=StorageConfig(url=sys.argv[1]))
    await store.close()

asyncio.run(main())
"""


async def test_processes_starting_together_on_an_empty_database_all_migrate_it(config, count_rows):
    procs = [await python(STARTER, config.url) for _ in range(2)]
    for proc in procs:
        assert (await asyncio.wait_for(proc.stdout.readline(), 60)) == b"ready\n"
    for proc in procs:
        proc.stdin.write(b"go\n")
    outcomes = await asyncio.gather(*(asyncio.wait_for(proc.communicate(), 60) for proc in procs))
    assert [proc.returncode for proc in procs] == [0, 0], [err.decode()[-600:] for _, err in outcomes]
    assert await count_rows("guild_settings") == 0  # the schema is there, and empty
