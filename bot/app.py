"""`python -m bot`: reads the settings, owns the lifetimes of storage, worker and bot, runs Discord or the console."""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import logging
import os
import signal
import sys
from collections.abc import AsyncIterator

from bot import config as cfg
from bot.backoff import Backoff
from bot.config import BotConfig, ConfigError
from seq2seq.protocol.config_file import CONFIG_ENV

log = logging.getLogger("banter")

NO_TOKEN_NOTICE = (
    f"{cfg.TOKEN_ENV} is not set: chatting in the terminal instead (console mode); "
    f"set {cfg.TOKEN_ENV} to run on Discord."
)


def parse_args(argv: list[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(prog="python -m bot", description="Banter, the Discord chat bot.")
    parser.add_argument("--console", action="store_true", help="chat in the terminal: one reply per input line")
    parser.add_argument("--config", help=f"config file (default: ${CONFIG_ENV} or ./config.toml)")
    parser.add_argument(
        "--learn", action="store_true", help="console: learn from what is typed, like a learning channel"
    )
    parser.add_argument("--sync", action="store_true", help="sync slash commands even if they did not change")
    parser.add_argument("--log-level", default=os.environ.get("BANTER_LOG_LEVEL"), help="DEBUG, INFO, WARNING...")
    return parser.parse_args(argv)


@contextlib.asynccontextmanager
async def services(config: BotConfig, *, worker_log_level: str) -> AsyncIterator[tuple]:
    """Storage and a worker client (and the worker itself when none is configured), closed in reverse order."""
    from bot.storage import load_config as storage_config
    from bot.worker import WorkerClient
    from bot.worker.process import LocalWorker

    async with contextlib.AsyncExitStack() as stack:
        storage = await open_storage(storage_config(config.config_path))
        stack.push_async_callback(storage.close)
        url = config.worker_url
        if config.spawns_worker:
            local = LocalWorker(
                config.worker_models, host=config.worker_host, config=config.config_path, log_level=worker_log_level
            )
            await local.start()
            stack.push_async_callback(local.stop)
            url = local.url
        worker = WorkerClient(
            url,
            config.worker_token,
            reply_timeout=config.reply_timeout_seconds,
            probe_max=config.worker_probe_max_seconds,
        )
        await stack.enter_async_context(worker)
        if not config.spawns_worker:
            await worker.check()
        else:
            worker.health.failed(
                "starting", expected=True
            )  # a fresh worker loads its model first; the probe notices when ready
        yield storage, worker


async def open_storage(config, backoff: Backoff | None = None):
    """Storage.open, waiting while another process holds the database locked (one line per try)."""
    from bot.storage import DatabaseLockedError, Storage

    backoff = backoff or Backoff(first=2.0, ceiling=30.0)
    while True:
        try:
            return await Storage.open(config=config)
        except DatabaseLockedError as exc:
            delay = backoff.next()
            log.warning("%s: trying again in %.0f s", exc, delay)
            await asyncio.sleep(delay)


def point_discord(env: dict) -> None:
    """Use a Discord-compatible endpoint other than discord.com (a local test server, a proxy)."""
    import discord.gateway
    import discord.http
    import yarl

    if env.get(cfg.API_BASE_ENV):
        discord.http.Route.BASE = env[cfg.API_BASE_ENV].rstrip("/")
    if env.get(cfg.GATEWAY_ENV):
        discord.gateway.DiscordWebSocket.DEFAULT_GATEWAY = yarl.URL(env[cfg.GATEWAY_ENV])


async def run_discord(config: BotConfig, token: str, args: argparse.Namespace) -> int:
    from bot.client import Banter
    from bot.connection import Refused, stay_on_discord

    point_discord(dict(os.environ))
    async with services(config, worker_log_level="INFO") as (storage, worker):
        stop = asyncio.Event()
        loop = asyncio.get_running_loop()
        for sig in (signal.SIGINT, signal.SIGTERM):
            loop.add_signal_handler(sig, stop.set)

        def new_bot() -> Banter:
            return Banter(config=config, storage=storage, worker=worker, force_sync=args.sync)

        try:
            await stay_on_discord(new_bot, token, stop)
        except Refused as exc:
            print(f"error: {exc}", file=sys.stderr)
            return 2
    return 0


async def run_console(config: BotConfig, args: argparse.Namespace) -> int:
    from bot import console
    from bot.core.factory import chat_service

    if config.spawns_worker and sys.stdin.isatty() and sys.stderr.isatty():
        print(f"Loading the reply model from {config.worker_models}/ (a few seconds)...", file=sys.stderr, flush=True)
    async with services(config, worker_log_level="WARNING") as (storage, worker):
        timeout = config.worker_start_timeout_seconds if config.spawns_worker else 10.0
        if not await worker.health.wait_until_up(timeout):
            print(
                f"warning: the worker at {worker.base_url} is not ready ({worker.health.last_error}); "
                "answers will say so",
                file=sys.stderr,
            )
        if args.learn:
            await storage.update_guild_settings(console.CONSOLE_GUILD, learning_channels=[console.CONSOLE_CHANNEL])
        service = chat_service(config, storage, worker, console.CONSOLE_BOT, interactive=True)
        return await console.run(service)


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    token = os.environ.get(cfg.TOKEN_ENV, "").strip()
    use_console = args.console or not token
    level = (args.log_level or ("WARNING" if use_console else "INFO")).upper()
    logging.basicConfig(level=level, stream=sys.stderr, format="%(asctime)s %(name)s %(levelname)s %(message)s")
    try:
        config = cfg.load(args.config)
    except ConfigError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    if use_console and not args.console:
        print(NO_TOKEN_NOTICE, file=sys.stderr)
    from bot.storage import StorageError

    try:
        if use_console:
            return asyncio.run(run_console(config, args))
        return asyncio.run(run_discord(config, token, args))
    except KeyboardInterrupt:
        return 130
    except (FileNotFoundError, StorageError, ConfigError) as exc:  # no models folder; an unusable database or [storage]
        print(f"error: {exc}", file=sys.stderr)
        return 2
