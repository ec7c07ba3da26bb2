"""Imports flow one way: bot → seq2seq.protocol (stdlib only) and bot.storage; seq2seq knows nothing above it."""

import ast
import sys
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parent.parent
HEAVY = {"tensorflow", "keras", "jax", "torch", "nltk"}
BOT_SIDE = {"bot", "discord", "sqlalchemy", "alembic", "aiosqlite", "asyncpg"}


def imports_of(path: Path) -> set[str]:
    names = set()
    for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
        if isinstance(node, ast.Import):
            names.update(alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom) and node.level == 0 and node.module:
            names.add(node.module)
    return names


def files(package: str) -> list[Path]:
    return sorted((REPO / package).rglob("*.py"))


def top(name: str) -> str:
    return name.split(".")[0]


def test_seq2seq_never_imports_the_bot_discord_or_a_database():
    offenders = {
        str(f.relative_to(REPO)): sorted(n for n in imports_of(f) if top(n) in BOT_SIDE) for f in files("seq2seq")
    }
    assert {k: v for k, v in offenders.items() if v} == {}


def bot_may_import(name: str) -> bool:
    """From seq2seq, the bot may import the protocol package (wire types, config loader) and nothing else."""
    return name in ("seq2seq", "seq2seq.protocol") or name.startswith("seq2seq.protocol.")


def test_the_protocol_package_is_standard_library_only():
    modules = files("seq2seq/protocol")
    if not modules:
        pytest.fail("seq2seq/protocol/ is missing")
    outside = {
        str(f.relative_to(REPO)): sorted(
            n for n in imports_of(f) if top(n) not in sys.stdlib_module_names and top(n) != "__future__"
        )
        for f in modules
    }
    # Relative imports (`from .wire import ...`) stay inside the package; imports_of skips them.
    assert {k: v for k, v in outside.items() if v} == {}


def test_bot_never_imports_the_model_stack():
    offenders = {}
    for f in files("bot"):
        bad = sorted(n for n in imports_of(f) if top(n) in HEAVY or (top(n) == "seq2seq" and not bot_may_import(n)))
        if bad:
            offenders[str(f.relative_to(REPO))] = bad
    assert offenders == {}


def test_storage_never_imports_discord():
    offenders = {
        str(f.relative_to(REPO)): sorted(n for n in imports_of(f) if top(n) == "discord") for f in files("bot/storage")
    }
    assert {k: v for k, v in offenders.items() if v} == {}


def test_the_product_never_imports_the_benchmarks():
    """Benchmarks (and the v1 baseline they compare against) import the product, never the other way round."""
    offenders = {}
    for package in ("seq2seq", "bot"):
        for f in files(package):
            bad = sorted(n for n in imports_of(f) if top(n) == "benchmarks")
            if bad:
                offenders[str(f.relative_to(REPO))] = bad
    assert offenders == {}


RETIRED_V1 = {"inference", "search", "replier", "antilm"}  # v1's NumPy decoder: benchmarks/baselines/v1 keeps it


def test_v1s_decoder_lives_only_in_the_benchmarks_baseline():
    in_product = sorted(str(f.relative_to(REPO)) for f in files("seq2seq") if f.stem in RETIRED_V1)
    assert in_product == []
    assert {f.stem for f in files("benchmarks/baselines/v1")} >= RETIRED_V1


def test_model_file_imports_only_keras_and_its_config():
    names = imports_of(REPO / "seq2seq" / "model" / "lstm.py")
    assert {n for n in names if top(n) == "seq2seq"} == {"seq2seq.model.config"}


def test_every_module_opens_with_a_docstring():
    missing = []
    for package in ("seq2seq", "bot"):
        for f in files(package):
            tree = ast.parse(f.read_text(encoding="utf-8"))
            if f.name != "__init__.py" or tree.body:
                if ast.get_docstring(tree) is None:
                    missing.append(str(f.relative_to(REPO)))
    assert missing == []


def test_transformer_file_imports_only_keras_numpy_and_its_config():
    names = imports_of(REPO / "seq2seq" / "model" / "transformer.py")
    assert {n for n in names if top(n) == "seq2seq"} == {"seq2seq.model.config"}


def test_the_engine_serves_without_the_training_stack():
    """Importing the v2 engine, or the worker that serves through it, loads neither TensorFlow nor Keras (a worker
    at rest stays small; only its fine-tuning processes train)."""
    import subprocess

    code = (
        "import sys, seq2seq.engine.decode, seq2seq.engine.convert, seq2seq.worker.server; "
        "print(sorted(m for m in ('tensorflow', 'keras', 'jax', 'torch') if m in sys.modules))"
    )
    out = subprocess.run([sys.executable, "-c", code], cwd=REPO, capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "[]"


def test_the_text_stage_sits_below_everything_else_in_seq2seq():
    """`text/` (tokenizers, corpus, a reply's words) is the pipeline's first stage: the engine ranks replies with
    its word rules, the benchmarks count with them, and it imports no later stage."""
    later = ("model", "train", "engine", "eval", "worker")
    offenders = {}
    for f in files("seq2seq/text"):
        bad = sorted(n for n in imports_of(f) if n.split(".")[:2] in [["seq2seq", s] for s in later])
        if bad:
            offenders[str(f.relative_to(REPO))] = bad
    assert offenders == {}
    serving = imports_of(REPO / "seq2seq" / "engine" / "decode.py")
    assert sorted(n for n in serving if n.startswith("seq2seq.eval")) == []
