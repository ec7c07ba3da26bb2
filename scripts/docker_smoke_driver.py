"""Drive the Compose stack end to end against the local Discord-protocol test server.

Run by scripts/docker-smoke.sh (CI) and benchmarks/docker_bench.py, with the repo's .venv Python:
the test server (tests/discord_server) runs here on the host, bound to the Docker bridge address
(never anything but loopback or a bridge), and the bot container reaches it through
BANTER_DISCORD_API / BANTER_DISCORD_GATEWAY. Steps, each timed from the first `up`:

  1. up            `compose up -d --no-build`: the worker must turn healthy before the bot starts
  2. worker ready  the worker container's healthcheck (/readyz) says healthy
  3. bot connects  the bot identifies on the test gateway                            [needs the bot]
  4. reply         a user mentions the bot; the bot posts a reply                      [needs the bot]
  5. marker        a row written into the bot's database (SQLite in the "data" volume; --postgres: the
                   postgres profile's server)
  6. down + up     `compose down` (volumes kept), `compose up -d` again
  7. persisted     the marker row and the messages the bot stored are still there
  8. reply again   a second mention after the restart is answered                      [needs the bot]
Memory of each container at rest is measured after the first reply. Exit 0 only when all pass.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import secrets
import shlex
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from tests.discord_server.server import DiscordTestServer  # noqa: E402

NEEDS_BOT = {"bot connects", "reply", "bot reconnects", "reply again"}

# Runs inside a one-off bot container (python -c): the database the bot uses, found as the app finds it
# (BANTER_DATABASE_URL, else config.toml: SQLite in the "data" volume), so SQLite and PostgreSQL both work.
DB_PROBE = """
import asyncio, json, sys
from sqlalchemy import inspect, text
from sqlalchemy.ext.asyncio import create_async_engine
from bot.storage.config import resolve_url
from bot.storage.engine import normalise_url

async def main(action, token=None):
    engine = create_async_engine(normalise_url(resolve_url()))
    async with engine.begin() as conn:
        if action == "write":
            await conn.execute(text("CREATE TABLE IF NOT EXISTS docker_smoke_marker (token VARCHAR(64) NOT NULL)"))
            await conn.execute(text("INSERT INTO docker_smoke_marker VALUES (:t)"), {"t": token})
        tables = set(await conn.run_sync(lambda c: inspect(c).get_table_names()))
        one = lambda sql: conn.execute(text(sql))
        marker = (
            [r[0] for r in await one("SELECT token FROM docker_smoke_marker")]
            if "docker_smoke_marker" in tables
            else []
        )
        messages = (await one("SELECT count(*) FROM messages")).scalar() if "messages" in tables else None
        has_alembic = "alembic_version" in tables
        revision = (await one("SELECT version_num FROM alembic_version")).scalar() if has_alembic else None
    await engine.dispose()
    print(json.dumps({"marker": marker, "messages": messages, "revision": revision, "dialect": engine.dialect.name}))

asyncio.run(main(*sys.argv[1:]))
"""


class Smoke:
    def __init__(self, compose: list[str], bind: str, timeout: float, postgres: bool = False):
        self.postgres = postgres
        self.compose = [*compose, "--profile", "postgres"] if postgres else compose
        self.bind = bind
        self.timeout = timeout
        self.t0 = 0.0
        self.steps: list[dict] = []
        self.results: dict = {}
        self.env = dict(os.environ)
        self.server = DiscordTestServer()

    # ----- helpers
    def elapsed(self) -> float:
        return round(time.monotonic() - self.t0, 2)

    def step(self, name: str, ok: bool, detail: str = "") -> bool:
        entry = {"step": name, "ok": ok, "at_s": self.elapsed(), "detail": detail}
        self.steps.append(entry)
        mark = "PASS" if ok else ("FAIL (needs the bot)" if name in NEEDS_BOT else "FAIL")
        print(f"[smoke {entry['at_s']:7.1f}s] {mark:20} {name}{': ' + detail if detail else ''}", flush=True)
        return ok

    async def sh(self, *args: str, check: bool = True, timeout: float | None = None) -> str:
        proc = await asyncio.create_subprocess_exec(
            *args,
            stdin=asyncio.subprocess.DEVNULL,
            stdout=asyncio.subprocess.PIPE,
            stderr=asyncio.subprocess.STDOUT,
            env=self.env,
        )
        try:
            out, _ = await asyncio.wait_for(proc.communicate(), timeout or self.timeout)
        except TimeoutError:
            proc.kill()
            raise RuntimeError(f"timed out after {timeout or self.timeout:.0f} s: {shlex.join(args)}") from None
        text = out.decode(errors="replace")
        if check and proc.returncode != 0:
            raise RuntimeError(f"{shlex.join(args)} exited {proc.returncode}:\n{text[-3000:]}")
        return text

    async def dc(self, *args: str, **kwargs) -> str:
        return await self.sh(*self.compose, *args, **kwargs)

    async def container(self, service: str) -> str:
        return (await self.dc("ps", "-q", service)).strip()

    async def health(self, service: str) -> str:
        cid = await self.container(service)
        if not cid:
            return "no container"
        return (
            await self.sh(
                "docker",
                "inspect",
                "-f",
                "{{if .State.Health}}{{.State.Health.Status}}{{else}}{{.State.Status}}{{end}}",
                cid,
                check=False,
            )
        ).strip()

    async def logs(self, service: str, lines: int = 40) -> str:
        return await self.dc("logs", "--no-color", "--tail", str(lines), service, check=False)

    async def db(self, *args: str) -> dict:
        out = await self.dc("run", "--rm", "--no-deps", "-T", "--entrypoint", "python", "bot", "-c", DB_PROBE, *args)
        return json.loads(out.strip().splitlines()[-1])

    # ----- steps
    async def up(self, label: str) -> bool:
        try:
            await self.dc("up", "-d", "--no-build")
        except RuntimeError as exc:
            self.step(label, False, str(exc).splitlines()[0])
            print(await self.logs("worker"))
            return False
        return self.step(label, True)

    async def worker_ready(self) -> bool:
        deadline = time.monotonic() + self.timeout
        status = ""
        while time.monotonic() < deadline:
            status = await self.health("worker")
            if status == "healthy":
                return self.step("worker ready", True, "healthcheck /readyz is 200")
            await asyncio.sleep(1)
        self.step("worker ready", False, f"worker is {status!r} after {self.timeout:.0f} s")
        print(await self.logs("worker"))
        return False

    async def bot_connects(self, count: int, label: str = "bot connects") -> bool:
        try:
            await self.server.wait_until(lambda: self.server.identify_count >= count, timeout=self.timeout)
        except TimeoutError:
            logs = await self.logs("bot")
            self.step(
                label,
                False,
                f"no IDENTIFY on the test gateway within {self.timeout:.0f} s; "
                f"bot is {await self.health('bot')!r}; its log ends:\n{logs}",
            )
            return False
        return self.step(label, True, f"identified (session {count})")

    async def mention(self, label: str, text: str) -> bool:
        channel, user = self.results["channel"], self.results["user"]
        said = time.monotonic()
        await self.server.user_says(channel, user, f"<@{self.server.bot_user.id}> {text}")
        try:
            sent = await self.server.wait_for_message(channel, timeout=60, check=lambda m: m.time >= said)
        except TimeoutError:
            self.step(label, False, f"no reply within 60 s; bot log ends:\n{await self.logs('bot')}")
            return False
        self.results.setdefault("replies", []).append({"to": text, "reply": sent.content, "at_s": self.elapsed()})
        return self.step(label, bool(sent.content), f"{text!r} -> {sent.content!r}")

    async def memory(self) -> dict:
        ids = {s: await self.container(s) for s in ("worker", "bot")}
        usage = {}
        for service, cid in ids.items():
            if cid:
                out = await self.sh("docker", "stats", "--no-stream", "--format", "{{.MemUsage}}", cid, check=False)
                usage[service] = out.strip().split(" / ")[0]
        return usage

    # ----- the whole run
    async def run(self, rest_s: float, keep: bool) -> bool:
        await self.server.start(host=self.bind)
        alice = self.server.add_user("alice")
        guild = self.server.add_guild("Smoke HQ", alice)
        self.results.update(channel=self.server.add_channel(guild, "general"), user=alice)
        env_file = Path(tempfile.mkdtemp(prefix="banter-smoke-")) / "env"
        env_file.write_text(
            "\n".join(
                [
                    f"DISCORD_TOKEN={self.server.token}",
                    f"BANTER_WORKER_TOKEN={secrets.token_hex(24)}",
                    f"BANTER_DISCORD_API={self.server.api_base}",
                    f"BANTER_DISCORD_GATEWAY={self.server.gateway_url}",
                    "BANTER_LOG_LEVEL=INFO",
                ]
            )
            + "\n"
        )
        if self.postgres:  # the "postgres" profile, set up as docker/env.example says
            password = secrets.token_hex(12)
            self.env["POSTGRES_PASSWORD"] = password
            with env_file.open("a") as handle:
                handle.write(f"BANTER_DATABASE_URL=postgresql+asyncpg://banter:{password}@postgres:5432/banter\n")
        self.env["BANTER_ENV_FILE"] = str(env_file)
        print(f"[smoke] test Discord server on {self.server.base_url}; compose: {shlex.join(self.compose)}", flush=True)
        self.t0 = time.monotonic()
        try:
            if not await self.up("up") or not await self.worker_ready():
                return False
            bot_ok = await self.bot_connects(1) and await self.mention("reply", "hello there, how are you?")
            if bot_ok:
                self.results["first_reply_s"] = self.results["replies"][0]["at_s"]
                await asyncio.sleep(rest_s)
                self.results["memory_at_rest"] = await self.memory()
                print(f"[smoke] memory at rest after {rest_s:.0f} s: {self.results['memory_at_rest']}", flush=True)
            token = secrets.token_hex(8)
            before = await self.db("write", token)
            self.step(
                "marker",
                token in before["marker"],
                f"{before['dialect']}, schema {before['revision']}, {before['messages']} messages stored",
            )
            sessions = self.server.identify_count
            await self.dc("down")
            volumes = await self.sh("docker", "volume", "ls", "-q")
            project_volumes = [v for v in volumes.split() if v.endswith(("_data", "_models"))]
            self.results["volumes_after_down"] = project_volumes
            self.results["second_up_started_s"] = self.elapsed()
            if not await self.up("down + up"):
                return False
            after = await self.db("read")
            kept = token in after["marker"] and (after["messages"] or 0) >= (before["messages"] or 0)
            self.step(
                "persisted",
                kept,
                f"marker {'found' if token in after['marker'] else 'MISSING'}, "
                f"{after['messages']} messages (before: {before['messages']})",
            )
            if bot_ok:
                await self.worker_ready()
                if await self.bot_connects(sessions + 1, "bot reconnects"):
                    await self.mention("reply again", "do you remember me?")
                    self.results["second_reply_s"] = self.results["replies"][-1]["at_s"]
            else:
                self.step("reply again", False, "skipped: the bot did not answer before the restart")
            return all(s["ok"] for s in self.steps)
        finally:
            if not keep:
                await self.dc("down", "-v", check=False)
                env_file.unlink(missing_ok=True)
            else:
                print(f"[smoke] left running; its env file: {env_file}", flush=True)
            await self.server.stop()


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--compose", required=True, help="the compose command, e.g. 'docker-compose -p bantersmoke'")
    parser.add_argument("--bind", required=True, help="address for the test server: the Docker bridge's (172.17.0.1)")
    parser.add_argument("--timeout", type=float, default=240, help="seconds for each wait (worker, bot, commands)")
    parser.add_argument("--rest", type=float, default=20, help="seconds idle before measuring memory")
    parser.add_argument("--json", type=Path, help="write steps, timings and memory here")
    parser.add_argument("--keep", action="store_true", help="leave the stack and its volumes up afterwards")
    parser.add_argument("--postgres", action="store_true", help="with the postgres profile instead of SQLite")
    args = parser.parse_args()
    smoke = Smoke(shlex.split(args.compose), args.bind, args.timeout, args.postgres)
    ok = asyncio.run(smoke.run(args.rest, args.keep))
    failed = [s["step"] for s in smoke.steps if not s["ok"]]
    needs_bot = [s for s in failed if s in NEEDS_BOT]
    if args.json:
        out = {k: v for k, v in smoke.results.items() if k not in ("channel", "user")}
        args.json.write_text(json.dumps({"ok": ok, "steps": smoke.steps, **out}, indent=2) + "\n")
    if ok:
        print("[smoke] all steps passed")
    else:
        print(
            f"[smoke] FAILED: {', '.join(failed) or 'see above'}"
            + (
                f" ({', '.join(needs_bot)} need a bot that connects through BANTER_DISCORD_API/"
                "BANTER_DISCORD_GATEWAY and answers mentions)"
                if needs_bot
                else ""
            )
        )
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
