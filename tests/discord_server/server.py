"""DiscordTestServer: lifecycle, pointing discord.py at it, scenario setup and observation helpers."""

from __future__ import annotations

import asyncio
import contextlib
import time
from collections.abc import AsyncIterator, Callable, Iterator
from typing import Any

import yarl
from aiohttp import web

from .driver import DriverMixin
from .gateway import Gateway
from .httputil import API_PREFIX, FaultRule, RateLimitRule, RequestRecord, UploadedFile, make_middleware
from .rest import CommandSync, CoreRoutes
from .rest_interactions import InteractionRecord, InteractionRoutes
from .rest_messages import MessageRoutes, ReactionCall, SentMessage, TypingCall
from .state import Channel, Guild, Member, Role, User, World

UserLike = User | int


class DiscordTestServer(DriverMixin):
    """A local Discord: REST under ``/api/v10`` and a gateway websocket, on 127.0.0.1.

    Example::

        server = await DiscordTestServer().start()
        alice = server.add_user("alice")
        guild = server.add_guild("HQ", alice)
        general = server.add_channel(guild, "general")
        bot = commands.Bot(command_prefix="!", intents=intents, guild_ready_timeout=0.1)
        async with server.run_bot(bot):
            await server.user_says(general, alice, "hello")
            reply = await server.wait_for_message(general)
        await server.stop()
    """

    def __init__(self, *, token: str = "banter-test-token", bot_name: str = "Banter") -> None:
        self.token = token
        self.world = World()
        self.owner_user = self.world.add_user("app-owner")
        self.bot_user = self.world.add_user(bot_name, bot=True)
        self.application_id = self.bot_user.id  # Discord: the application id is the bot user's id
        self.gateway = Gateway(self)
        self.echo_bot_messages = True  # Discord sends the bot its own MESSAGE_CREATEs too
        self.interaction_response_timeout = 3.0  # the initial response must come within 3 s
        # observations
        self.requests: list[RequestRecord] = []
        self.sent_messages: list[SentMessage] = []
        self.typing_calls: list[TypingCall] = []
        self.reactions: list[ReactionCall] = []
        self.bot_edits: list[Any] = []  # (channel_id, message_id, body)
        self.bot_deletes: list[Any] = []  # (channel_id, message_id)
        self.command_syncs: list[CommandSync] = []
        self.interactions: dict[str, InteractionRecord] = {}  # token -> record
        self.uploads: dict[int, UploadedFile] = {}
        self.errors: list[BaseException] = []  # exceptions inside the server's own handlers
        self._rate_limits: list[RateLimitRule] = []
        self._faults: list[FaultRule] = []
        self._waiters: list[asyncio.Future] = []
        self._consumed: set = set()
        self._runner: web.AppRunner | None = None
        self._port: int | None = None
        self._saved: list[Any] = []

    # -- lifecycle --------------------------------------------------------------------------------
    async def start(self, host: str = "127.0.0.1", port: int = 0) -> DiscordTestServer:
        app = web.Application(middlewares=[make_middleware(self)], client_max_size=64 * 1024 * 1024)
        core = CoreRoutes(self)
        core.register(app)
        MessageRoutes(self, core).register(app)
        InteractionRoutes(self).register(app)
        app.router.add_get("/gateway", self.gateway.handle)
        app.router.add_get("/resume-gateway", self.gateway.handle)
        # A handler still open at stop() (a socket accepted just before) is cancelled after 1 s, not aiohttp's 60.
        self._runner = web.AppRunner(app, handle_signals=False, access_log=None, shutdown_timeout=1.0)
        await self._runner.setup()
        site = web.TCPSite(self._runner, host, port)
        await site.start()
        self._host = host
        self._port = site._server.sockets[0].getsockname()[1]  # type: ignore[union-attr]
        return self

    async def stop(self) -> None:
        # Stop listening first: a client that reconnects at once (discord.py resumes on a 1001 close) must find
        # the port closed, not a server about to go whose fresh socket lingers until the shutdown timeout.
        if self._runner is not None:
            for site in list(self._runner.sites):
                await site.stop()
        await self.gateway.close_all()
        if self._runner is not None:
            await self._runner.cleanup()
            self._runner = None

    async def __aenter__(self) -> DiscordTestServer:
        return await self.start()

    async def __aexit__(self, *exc: Any) -> None:
        await self.stop()

    @property
    def port(self) -> int:
        assert self._port is not None, "call await server.start() first"
        return self._port

    @property
    def base_url(self) -> str:
        return f"http://{self._host}:{self.port}"

    @property
    def api_base(self) -> str:
        return self.base_url + API_PREFIX

    @property
    def gateway_url(self) -> str:
        return f"ws://{self._host}:{self.port}/gateway"

    @property
    def resume_gateway_url(self) -> str:
        return f"ws://{self._host}:{self.port}/resume-gateway"

    # -- pointing discord.py here -------------------------------------------------------------------
    def point_discord(self) -> None:
        """Set discord.py's REST base, gateway and CDN base to this server (undo with restore_discord)."""
        import discord.asset
        import discord.gateway
        import discord.http

        self._saved.append(
            (discord.http.Route.BASE, discord.gateway.DiscordWebSocket.DEFAULT_GATEWAY, discord.asset.Asset.BASE)
        )
        discord.http.Route.BASE = self.api_base
        discord.gateway.DiscordWebSocket.DEFAULT_GATEWAY = yarl.URL(self.gateway_url)
        discord.asset.Asset.BASE = self.base_url + "/cdn"

    def restore_discord(self) -> None:
        import discord.asset
        import discord.gateway
        import discord.http

        if self._saved:
            base, gateway, cdn = self._saved.pop()
            discord.http.Route.BASE = base
            discord.gateway.DiscordWebSocket.DEFAULT_GATEWAY = gateway
            discord.asset.Asset.BASE = cdn

    @contextlib.contextmanager
    def patch_discord(self) -> Iterator[DiscordTestServer]:
        self.point_discord()
        try:
            yield self
        finally:
            self.restore_discord()

    @contextlib.asynccontextmanager
    async def run_bot(self, client: Any, *, ready_timeout: float = 10.0) -> AsyncIterator[Any]:
        """Start ``client`` (a discord.Client/commands.Bot) against this server; yield once it is ready.

        Pass ``guild_ready_timeout=0.1`` to the client for a fast on_ready.
        """
        with self.patch_discord():
            task = asyncio.create_task(client.start(self.token), name="discord-test-bot")
            try:
                deadline = time.monotonic() + ready_timeout
                while not client.is_ready():
                    if task.done():
                        task.result()  # raise what ended client.start()
                        raise RuntimeError("client.start() returned before on_ready")
                    if time.monotonic() > deadline:
                        raise TimeoutError(f"bot not ready after {ready_timeout}s; errors={self.errors}")
                    await asyncio.sleep(0.02)
                yield client
                if task.done():
                    task.result()
            finally:
                if not client.is_closed():
                    await client.close()
                with contextlib.suppress(Exception, asyncio.CancelledError):
                    await asyncio.wait_for(task, 5)

    # -- scenario setup -----------------------------------------------------------------------------
    def add_user(self, name: str, bot: bool = False) -> User:
        return self.world.add_user(name, bot=bot)

    def add_guild(self, name: str, owner_id: UserLike, *, shard: tuple[int, int] | None = None) -> Guild:
        """A guild the bot is a member of; an owner that is a known user becomes a member too.

        ``shard=(shard_id, shard_count)``: its id routes its events to that shard of a sharded bot.
        """
        owner = owner_id if isinstance(owner_id, User) else self.world.users.get(int(owner_id))
        guild = self.world.add_guild(name, owner.id if owner else int(owner_id), shard=shard)  # type: ignore[arg-type]
        self.world.add_member(guild, self.bot_user)
        if owner is not None:
            self.world.add_member(guild, owner)
        return guild

    def add_channel(self, guild: Guild, name: str, **kwargs: Any) -> Channel:
        return self.world.add_channel(guild, name, **kwargs)

    def add_role(self, guild: Guild, name: str, permissions: int = 0) -> Role:
        return self.world.add_role(guild, name, permissions)

    def add_member(self, guild: Guild, user: User, roles: list[Role] | None = None) -> Member:
        return self.world.add_member(guild, user, roles)

    def add_emoji(self, guild: Guild, name: str, **kwargs: Any) -> int:
        return self.world.add_emoji(guild, name, **kwargs)

    def bot_guilds(self) -> list[Guild]:
        return [g for g in self.world.guilds.values() if self.bot_user.id in g.members]

    # -- 429 and fault switches ----------------------------------------------------------------------
    def rate_limit(
        self, method: str, route: str, times: int = 1, retry_after: float = 1.0, *, is_global: bool = False
    ) -> RateLimitRule:
        """Answer the next ``times`` requests of ``method route`` with 429 (route: template or path)."""
        rule = RateLimitRule(method.upper(), route, times, retry_after, is_global)
        self._rate_limits.append(rule)
        return rule

    def _take_rate_limit(self, method: str, route: str, path: str) -> RateLimitRule | None:
        for rule in self._rate_limits:
            if rule.remaining > 0 and rule.method == method and rule.route in (route, path):
                rule.remaining -= 1
                return rule
        return None

    def fail(
        self, method: str, route: str, status: int | None = 500, times: int = 1, message: str = "Injected failure"
    ) -> FaultRule:
        """Answer the next ``times`` requests of ``method route`` with ``status`` (None: drop the connection)."""
        rule = FaultRule(method.upper(), route, times, status, message)
        self._faults.append(rule)
        return rule

    def _take_fault(self, method: str, route: str, path: str) -> FaultRule | None:
        for rule in self._faults:
            if rule.remaining > 0 and rule.method == method and rule.route in (route, path):
                rule.remaining -= 1
                return rule
        return None

    # -- observing ----------------------------------------------------------------------------------
    @property
    def identify_count(self) -> int:
        return self.gateway.identify_count

    @property
    def resume_count(self) -> int:
        return self.gateway.resume_count

    @property
    def sync_count(self) -> int:
        """How many times the bot PUT a command list (global or guild)."""
        return len(self.command_syncs)

    def requests_to(self, method: str, route: str) -> list[RequestRecord]:
        return [r for r in self.requests if r.method == method.upper() and route in (r.route, r.path)]

    def messages_in(self, channel: Channel) -> list[dict[str, Any]]:
        return list(self.world.channels[channel.id].messages)

    def _notify(self) -> None:
        waiters, self._waiters = self._waiters, []
        for fut in waiters:
            if not fut.done():
                fut.set_result(None)

    async def wait_until(self, predicate: Callable[[], Any], timeout: float = 5.0) -> Any:
        """Wait until ``predicate()`` is truthy (re-checked whenever the server records something)."""
        loop = asyncio.get_running_loop()
        deadline = loop.time() + timeout
        while True:
            value = predicate()
            if value:
                return value
            remaining = deadline - loop.time()
            if remaining <= 0:
                raise TimeoutError(f"condition not met within {timeout}s; server errors={self.errors}")
            fut = loop.create_future()
            self._waiters.append(fut)
            with contextlib.suppress(asyncio.TimeoutError):
                await asyncio.wait_for(fut, min(remaining, 0.25))

    async def wait_for_message(
        self,
        channel: Channel | None = None,
        timeout: float = 5.0,
        check: Callable[[SentMessage], bool] | None = None,
    ) -> SentMessage:
        """The oldest bot-sent message (in ``channel``) no earlier wait_for_message has returned."""

        def find() -> SentMessage | None:
            for sent in self.sent_messages:
                if id(sent) in self._consumed or (channel is not None and sent.channel_id != channel.id):
                    continue
                if check is None or check(sent):
                    return sent
            return None

        sent = await self.wait_until(find, timeout)
        self._consumed.add(id(sent))
        return sent
