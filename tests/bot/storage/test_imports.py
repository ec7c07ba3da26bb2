"""bot/storage stays independent: it never imports discord, nor seq2seq beyond the seq2seq.protocol package."""

import ast
import subprocess
import sys
from pathlib import Path

from bot.storage.config import REPO_ROOT
from tests.test_architecture import bot_may_import

PACKAGE = REPO_ROOT / "bot" / "storage"


def imported_modules(path: Path) -> set[str]:
    names = set()
    for node in ast.walk(ast.parse(path.read_text(), filename=str(path))):
        if isinstance(node, ast.Import):
            names |= {alias.name for alias in node.names}
        elif isinstance(node, ast.ImportFrom) and node.level == 0 and node.module:
            names.add(node.module)
    return names


def test_no_module_imports_discord_or_the_model():
    files = sorted(PACKAGE.glob("*.py"))
    assert len(files) > 5
    for path in files:
        for name in imported_modules(path):
            top = name.split(".")[0]
            assert top != "discord", f"{path.name} imports {name}"
            assert top != "seq2seq" or bot_may_import(name), f"{path.name} imports {name}"


def test_importing_the_package_loads_neither():
    code = (
        "import sys, bot.storage; "
        "print(sorted(m for m in sys.modules if m.split('.')[0] in ('discord', 'seq2seq', 'tensorflow', 'keras')))"
    )
    out = subprocess.run([sys.executable, "-c", code], cwd=REPO_ROOT, capture_output=True, text=True, check=True)
    loaded = ast.literal_eval(out.stdout.strip())
    assert loaded and [m for m in loaded if not bot_may_import(m)] == []  # the config loader, and nothing more
