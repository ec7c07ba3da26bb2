"""Running Alembic from the app: `upgrade head` on start, over the app's own connection."""

from __future__ import annotations

from alembic import command
from alembic.config import Config
from sqlalchemy.engine import Connection
from sqlalchemy.ext.asyncio import AsyncEngine

from .config import REPO_ROOT
from .errors import StorageError

MIGRATIONS_DIR = REPO_ROOT / "migrations"
ALEMBIC_INI = REPO_ROOT / "alembic.ini"


def alembic_config(url: str | None = None) -> Config:
    """Alembic's Config for this checkout; `url` travels to env.py as an attribute."""
    if not (MIGRATIONS_DIR / "env.py").exists():
        raise StorageError(f"migrations not found at {MIGRATIONS_DIR}: run Banter from its checkout")
    cfg = Config(str(ALEMBIC_INI)) if ALEMBIC_INI.exists() else Config()
    cfg.set_main_option("script_location", str(MIGRATIONS_DIR))
    # The app logs as it likes; env.py must not reconfigure logging under it.
    cfg.attributes["configure_logger"] = False
    if url is not None:
        cfg.attributes["url"] = url
    return cfg


def _run(connection: Connection, revision: str, direction: str) -> None:
    cfg = alembic_config()
    cfg.attributes["connection"] = connection
    if direction == "up":
        command.upgrade(cfg, revision)
    else:
        command.downgrade(cfg, revision)


async def upgrade(engine: AsyncEngine, revision: str = "head") -> None:
    """Bring the schema to `revision` (the app calls this on every start; it is a no-op when current)."""
    async with engine.begin() as conn:
        await conn.run_sync(_run, revision, "up")


async def downgrade(engine: AsyncEngine, revision: str = "base") -> None:
    async with engine.begin() as conn:
        await conn.run_sync(_run, revision, "down")
