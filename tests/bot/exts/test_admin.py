"""Admin slash commands end to end: channels and settings for Manage Server, model commands for bot admins."""

from __future__ import annotations

import json
import struct

from tests.bot.conftest import WorkerProcess, eventually, learn_in, make_models_dir


async def run(server, world, user, *path, options=None, channel=None, timeout=10.0):
    record = await server.invoke_slash(world.guild, channel or world.general, user, "banter", *path, options=options)
    await record.wait(lambda r: r.response_type == 4 or r.followups, timeout=timeout)
    return record


def text_of(record) -> str:
    if record.response_type == 4:
        return record.callbacks[0]["data"]["content"]
    return record.followups[-1].get("content") or ""


async def test_commands_are_one_banter_group_with_descriptions(server, world, fake_worker, start_bot):
    async with start_bot(fake_worker.url):
        [sync] = server.command_syncs
        [banter] = sync.body
        subcommands = {o["name"]: o for o in banter["options"]}
        assert set(subcommands) == {
            "channels",
            "settings",
            "import-history",
            "retrain",
            "models",
            "rollback",
            "status",
            "optout",
            "optin",
            "forget-me",
            "my-data",
            "privacy",
        }
        assert all(o["description"] for o in subcommands.values())
        assert any(opt.get("autocomplete") for opt in subcommands["rollback"]["options"])


async def test_channels_and_settings_for_manage_server_and_refused_to_others(
    server, world, storage, fake_worker, start_bot
):
    async with start_bot(fake_worker.url):
        record = await run(
            server, world, world.alice, "channels", options={"channel": world.random, "learn": True, "reply": True}
        )
        assert record.ephemeral and f"<#{world.random.id}>" in text_of(record)
        settings = await storage.get_guild_settings(world.guild.id)
        assert settings.learning_channels == {world.random.id} and settings.reply_channels == {world.random.id}

        record = await run(server, world, world.alice, "channels", options={"reply": False}, channel=world.random)
        assert (await storage.get_guild_settings(world.guild.id)).reply_channels == frozenset()

        record = await run(server, world, world.alice, "settings", options={"reply_chance": 0.25, "cooldown": 5})
        settings = await storage.get_guild_settings(world.guild.id)
        assert settings.reply_chance == 0.25 and settings.cooldown_seconds == 5 and "25%" in text_of(record)
        record = await run(server, world, world.alice, "settings")
        assert "reply chance: 25%" in text_of(record)

        for user in (world.bob, world.carol):  # bob can manage messages, not the server
            record = await run(server, world, user, "settings", options={"enabled": False})
            assert record.ephemeral and "Manage Server" in text_of(record)
            record = await run(server, world, user, "channels", options={"learn": False}, channel=world.random)
            assert record.ephemeral and "Manage Server" in text_of(record)
        assert (await storage.get_guild_settings(world.guild.id)).enabled
        assert (await storage.get_guild_settings(world.guild.id)).learning_channels == {world.random.id}
        audit = await storage.audit_log(world.guild.id)
        assert {a.actor_id for a in audit} == {world.alice.id}


async def test_model_commands_work_for_the_app_owner_and_config_admins_only(
    server, world, storage, real_worker, start_bot
):
    async with start_bot(real_worker.url, admin_ids=frozenset({world.bob.id})):
        record = await run(server, world, world.app_owner, "models")
        assert record.ephemeral and "`tiny`" in text_of(record) and "perplexity" in text_of(record)

        record = await run(server, world, world.bob, "status")
        status = text_of(record)
        assert "**Worker**: up, model `tiny`" in status and "**Pairs logged**: 0" in status

        record = await run(server, world, world.app_owner, "rollback", options={"version": "nope"})
        assert "Could not activate `nope`" in text_of(record)
        record = await run(server, world, world.app_owner, "rollback", options={"version": "tiny"})
        assert "`tiny` is now the active model" in text_of(record)

        for command, options in (
            ("status", None),
            ("models", None),
            ("retrain", None),
            ("rollback", {"version": "tiny"}),
        ):
            record = await run(server, world, world.alice, command, options=options)  # owns the guild, not the bot
            assert record.ephemeral and record.response_type == 4
            assert "Only the bot's owner and the admins" in text_of(record)
        record = await run(server, world, world.carol, "status", channel=server.world.dm_channel(world.carol))
        assert "Only the bot's owner" in text_of(record)


async def test_rollback_to_a_version_the_gate_rejected_needs_force(
    server, world, storage, tiny_model_dir, tmp_path, start_bot
):
    models = make_models_dir(tiny_model_dir, tmp_path / "models")
    (models / "ft-bad").symlink_to(tiny_model_dir, target_is_directory=True)
    gate = {"passed": False, "reasons": ["base held-out perplexity 5e21 is worse than 30.0 by more than 5%"]}
    versions = {"tiny": {"status": "active"}, "ft-bad": {"status": "rejected", "gate": gate, "parent": "tiny"}}
    (models / "registry.json").write_text(json.dumps({"format": 1, "active": "tiny", "versions": versions}))
    worker = WorkerProcess(models, tmp_path / "worker.log").start()
    try:
        async with start_bot(worker.url):
            record = await run(server, world, world.app_owner, "rollback", options={"version": "ft-bad"})
            assert "Could not activate `ft-bad`" in text_of(record) and "quality gate" in text_of(record)
            options = {"version": "ft-bad", "force": True}
            record = await run(server, world, world.app_owner, "rollback", options=options, timeout=60)
            assert "`ft-bad` is now the active model (over the quality gate's rejection)" in text_of(record)
        [entry] = [a for a in await storage.audit_log() if a.action == "model.rollback"]
        assert entry.details == {"version": "ft-bad", "forced": True} and entry.actor_id == world.app_owner.id
        assert json.loads((models / "registry.json").read_text())["versions"]["ft-bad"]["forced"]
    finally:
        worker.kill()


def png_size(data: bytes) -> tuple[int, int]:
    assert data[:8] == b"\x89PNG\r\n\x1a\n" and data[12:16] == b"IHDR"
    return struct.unpack(">II", data[16:24])


def worker_chart(tmp_path) -> bytes:
    """A loss chart as the worker draws it (matplotlib, in the tests and the worker only)."""
    from seq2seq.train.reporting import plot_losses

    plot_losses({"train": [(s, 5.0 - s) for s in range(1, 5)], "val": [(4, 1.5)]}, tmp_path / "loss.png")
    return (tmp_path / "loss.png").read_bytes()


async def test_retrain_exports_pairs_follows_the_job_and_ends_with_metrics_and_a_chart(
    server, world, storage, fake_worker, start_bot, tmp_path
):
    await learn_in(storage, world.guild, world.general)
    fake_worker.charts["ft-1"] = chart = worker_chart(tmp_path)
    people = [world.bob, world.carol]
    for i in range(30):
        server.seed_history(world.general, people[i % 2], [f"training line {i}"])
    fake_worker.job_steps = [
        {"state": "running", "progress": {"phase": "training", "step": s, "total": 4, "loss": 5.0 - s}}
        for s in range(1, 5)
    ] + [
        {
            "state": "succeeded",
            "outcome": "activated",
            "version": "ft-1",
            "progress": {"phase": "done"},
            "metrics": {"val_perplexity": 60.0},
        }
    ]
    async with start_bot(fake_worker.url, log_channel=world.random.id) as bot:
        record = await server.invoke_slash(
            world.guild, world.general, world.alice, "banter", "import-history", options={"channel": world.general}
        )
        await record.wait(lambda r: any("Imported" in (b.get("content") or "") for _, b in r.edits))
        record = await server.invoke_slash(world.guild, world.general, world.app_owner, "banter", "retrain")
        await record.wait(lambda r: any("accepted" in (b.get("content") or "") for _, b in r.edits), timeout=15)
        final = record.edits[-1][1]["content"]
        assert "`ft-1` accepted and now active" in final and "80 → 60 (better)" in final
        [(query, body)] = fake_worker.uploads
        lines = body.decode().splitlines()  # the export caps each person's share, so a few may be left out
        assert 10 <= len(lines) <= 29 and '"query": "training line 0"' in lines[0] and query["activate"] == "true"
        post = await server.wait_for_message(world.random)  # the log channel gets the same report
        assert "ft-1" in post.content and post.allowed_mentions == {"parse": []}
        width, height = png_size(post.files[0].data)  # the worker's chart of the new version, as it drew it
        assert post.files[0].filename.endswith(".png") and width > 100 and height > 100 and post.files[0].data == chart
        edit_files = [
            f for r in server.requests_to("PATCH", "/webhooks/{app_id}/{token}/messages/{message_id}") for f in r.files
        ]
        assert edit_files and edit_files[-1].data == chart
        [run_info] = await storage.training_runs()
        assert run_info.status == "succeeded" and run_info.pairs_new == len(lines)
        assert run_info.metrics["after"]["val_perplexity"] == 60.0
        assert not bot.finetuner.running


async def schedule_looked(bot) -> None:
    """The barrier for "the schedule did not start a fine-tune": it has run once more, wholly after this call
    (its count goes up at the end of a run, and the run under way may have begun before)."""
    schedule = bot.get_cog("LearningCog").schedule
    start = schedule.current_loop
    await eventually(lambda: schedule.current_loop >= start + 2, timeout=10)


async def test_the_schedule_fine_tunes_when_enough_new_pairs_and_the_interval_allow(
    server, world, storage, fake_worker, start_bot
):
    await learn_in(storage, world.guild, world.general)
    fake_worker.job_steps = [
        {
            "state": "succeeded",
            "outcome": "rejected",
            "version": "ft-2",
            "progress": {"phase": "done"},
            "metrics": {"val_perplexity": 90.0},
        }
    ]
    async with start_bot(
        fake_worker.url,
        log_channel=world.random.id,
        finetune_interval_hours=24,
        finetune_min_pairs=10,
        finetune_check_minutes=0.005,
    ) as bot:
        for i in range(8):  # 7 pairs: not enough yet
            await server.user_says(world.general, [world.bob, world.carol][i % 2], f"live line {i}")
        await server.wait_until(lambda: bot.chat.learner.counts["stored"] == 8)
        await schedule_looked(bot)
        assert fake_worker.uploads == []
        for i in range(8, 14):
            await server.user_says(world.general, [world.bob, world.carol][i % 2], f"live line {i}")
        post = await server.wait_for_message(world.random, timeout=10)
        assert "`ft-2` rejected by the quality gate" in post.content and "80 → 90 (worse)" in post.content
        assert post.files == []  # the worker has no chart of ft-2: the report goes without one
        await schedule_looked(bot)
        assert len(fake_worker.uploads) == 1  # the next one waits for the interval
        record = await server.invoke_slash(world.guild, world.general, world.app_owner, "banter", "status")
        await record.wait(lambda r: r.followups)
        assert "**Next fine-tune**: <t:" in record.followups[0]["content"]
