"""migrations/: upgrade from empty to head and down to base; models and migrations agree."""

import json
import os
import subprocess
import sys
from datetime import UTC, datetime

from alembic.autogenerate import compare_metadata
from alembic.migration import MigrationContext
from sqlalchemy import inspect, text

from bot.storage.config import REPO_ROOT
from bot.storage.engine import create_engines
from bot.storage.migrate import downgrade, upgrade
from bot.storage.models import Base

TABLES = {t.name for t in Base.metadata.sorted_tables}


async def tables(engine):
    async with engine.connect() as conn:
        return set(await conn.run_sync(lambda c: inspect(c).get_table_names()))


async def test_upgrade_to_head_and_down_to_base(db_url):
    engines = create_engines(db_url)
    try:
        assert await tables(engines.writer) == set()
        await upgrade(engines.writer)
        assert await tables(engines.writer) == TABLES | {"alembic_version"}
        await downgrade(engines.writer, "base")
        assert await tables(engines.writer) == {"alembic_version"}
        await upgrade(engines.writer)  # and up again: downgrade left nothing in the way
        assert await tables(engines.writer) == TABLES | {"alembic_version"}
    finally:
        await engines.dispose()


async def test_0002_drops_model_versions_and_its_downgrade_brings_the_table_back(db_url):
    """The worker's registry is the one record of model versions; a training run keeps the version it made."""
    engines = create_engines(db_url)
    run = {"status": "succeeded", "started": datetime(2025, 3, 1, tzinfo=UTC), "metrics": '{"version": "ft-1"}'}
    try:
        await upgrade(engines.writer, "0001")
        async with engines.writer.begin() as conn:
            await conn.execute(
                text("INSERT INTO training_runs (status, started_at, metrics) VALUES (:status, :started, :metrics)"),
                run,
            )
            await conn.execute(
                text(
                    "INSERT INTO model_versions (name, path, training_run_id, is_active, created_at) "
                    "VALUES ('ft-1', 'worker:ft-1', 1, true, :started)"
                ),
                run,
            )
        await upgrade(engines.writer)
        assert "model_versions" not in await tables(engines.writer)
        assert await training_runs(engines.writer) == [("succeeded", {"version": "ft-1"})]

        await downgrade(engines.writer, "0001")
        assert "model_versions" in await tables(engines.writer)
        async with engines.writer.connect() as conn:
            columns, keys = await conn.run_sync(
                lambda c: (
                    [col["name"] for col in inspect(c).get_columns("model_versions")],
                    [fk["referred_table"] for fk in inspect(c).get_foreign_keys("model_versions")],
                )
            )
            assert (await conn.execute(text("SELECT count(*) FROM model_versions"))).scalar() == 0
        assert columns == ["id", "name", "path", "training_run_id", "metrics", "is_active", "created_at"]
        assert keys == ["training_runs"]
        assert await training_runs(engines.writer) == [("succeeded", {"version": "ft-1"})]

        await upgrade(engines.writer)
        assert await tables(engines.writer) == TABLES | {"alembic_version"}
    finally:
        await engines.dispose()


async def training_runs(engine) -> list[tuple[str, dict]]:
    async with engine.connect() as conn:
        rows = await conn.execute(text("SELECT status, metrics FROM training_runs"))
        return [(status, metrics if isinstance(metrics, dict) else json.loads(metrics)) for status, metrics in rows]


async def test_models_and_migrations_do_not_differ(db_url):
    engines = create_engines(db_url)
    try:
        await upgrade(engines.writer)
        async with engines.writer.connect() as conn:
            diff = await conn.run_sync(
                lambda c: compare_metadata(
                    MigrationContext.configure(c, opts={"compare_type": True, "compare_server_default": True}),
                    Base.metadata,
                )
            )
        assert diff == []
    finally:
        await engines.dispose()


def test_alembic_command_line_from_the_repo_root_uses_the_app_url(tmp_path):
    db = tmp_path / "cli.db"
    env = {**os.environ, "BANTER_DATABASE_URL": f"sqlite+aiosqlite:///{db}"}
    alembic = [sys.executable, "-m", "alembic"]
    subprocess.run([*alembic, "upgrade", "head"], cwd=REPO_ROOT, env=env, check=True, capture_output=True)
    out = subprocess.run([*alembic, "current"], cwd=REPO_ROOT, env=env, check=True, capture_output=True, text=True)
    assert "(head)" in out.stdout
    assert db.stat().st_size > 0


async def test_a_sqlite_batch_migration_does_not_cascade_deletes(tmp_path, msg):
    """Batch mode recreates `messages`; with foreign keys on, that would delete every pair."""
    from alembic.operations import Operations

    from bot.storage import Storage, StorageConfig
    from bot.storage.migrate import migration_connection

    url = f"sqlite+aiosqlite:///{tmp_path / 'batch.db'}"
    store = await Storage.open(config=StorageConfig(url=url))
    await store.update_guild_settings(900_001, learning_channels=[800_010])
    await store.log_messages([msg(1, 100, "a b"), msg(2, 101, "c d", 1), msg(3, 100, "e f", 2)])
    await store.close()

    def recreate_messages(conn):
        with Operations(MigrationContext.configure(conn)).batch_alter_table("messages", recreate="always"):
            pass

    engines = create_engines(url)
    try:
        async with migration_connection(engines.writer) as conn:
            await conn.run_sync(recreate_messages)
        async with engines.writer.connect() as conn:
            assert (await conn.exec_driver_sql("SELECT count(*) FROM pairs")).scalar() == 2
            assert (await conn.exec_driver_sql("PRAGMA foreign_keys")).scalar() == 1  # back on afterwards
    finally:
        await engines.dispose()
