"""Crash-safe files of the worker: hidden temporary names, atomic JSON records, deletes never seen half done."""

from __future__ import annotations

import contextlib
import json
import os
import shutil
import tempfile
import time
from pathlib import Path

# Hidden names: unfinished versions and temporary files, never listed or loaded as versions, and deleted at
# start-up (a version name may not start with a dot).
TEMP_PREFIX = ".tmp-"


def write_json_atomically(path: Path, data: dict) -> None:
    """A hidden temporary file beside `path`, synced, then renamed over it; it never outlives a failure."""
    fd, tmp = tempfile.mkstemp(prefix=f"{TEMP_PREFIX}{path.name}-", dir=path.parent)
    try:
        with os.fdopen(fd, "w", encoding="utf-8") as handle:
            json.dump(data, handle, indent=2, ensure_ascii=False)
            handle.flush()
            os.fsync(handle.fileno())  # the rename must never expose an empty file after a power cut
        os.replace(tmp, path)
    except BaseException:
        with contextlib.suppress(OSError):
            os.unlink(tmp)
        raise


def remove_tree(path: Path) -> None:
    """Rename to a hidden name first, so a half-deleted directory is never seen as a version."""
    if path.is_symlink() or path.is_file():
        path.unlink(missing_ok=True)
        return
    if not path.exists():
        return
    hidden = path.with_name(f"{TEMP_PREFIX}del-{path.name}-{time.monotonic_ns()}")
    os.rename(path, hidden)
    shutil.rmtree(hidden, ignore_errors=True)
