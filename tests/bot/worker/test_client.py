"""The bot's worker client against a real worker: what it fetches besides replies."""

from __future__ import annotations

from bot.worker import WorkerClient


async def test_a_versions_loss_chart_comes_from_the_worker(real_worker, tiny_model_dir):
    async with WorkerClient(real_worker.url) as client:
        active, _ = await client.models()
        assert await client.loss_chart(active) == (tiny_model_dir / "loss.png").read_bytes()
        assert await client.loss_chart("no-such-version") is None
