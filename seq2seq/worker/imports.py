"""Fine-tune pairs named by `path`: only regular files inside the configured import folder, read up to a limit."""

from __future__ import annotations

import io
import os
import stat
from pathlib import Path

from seq2seq.protocol import MAX_JOB_BODY, clip, pair_from_json
from seq2seq.text.corpus import pairs_from_lines

# Never trust st_size: /proc files say 0 and are endless; a file may grow while it is read.
MAX_IMPORT_BYTES = MAX_JOB_BODY  # the same limit as an uploaded body


class ImportRefused(Exception):
    """The request may not read this file (403): no import folder is configured, or the path leads outside it."""


def pairs_from_import(folder: Path | None, raw, limit: int = MAX_IMPORT_BYTES) -> list[dict]:
    """The pairs of the file `raw` (absolute, or relative to the import folder), checked like uploaded ones."""
    data = read_import(folder, raw, limit)
    lines = io.StringIO(data.decode("utf-8", errors="replace"), newline=None)
    # The group (a JSONL line's, or the file and line) keeps conversations whole in the held-out split.
    return [
        pair_from_json(
            {"query": p.query, "reply": p.reply, "context": p.context, "group": p.group}, f"{clip(raw)}: pair {i + 1}"
        )
        for i, p in enumerate(pairs_from_lines(lines, Path(raw)))
    ]


def read_import(folder: Path | None, raw, limit: int = MAX_IMPORT_BYTES) -> bytes:
    """The bytes of one regular file inside `folder`, after resolving every symlink; at most `limit` of them."""
    if folder is None:
        raise ImportRefused(
            "reading files on the worker is off: upload the pairs instead, or set [worker] import_dir "
            "(or BANTER_WORKER_IMPORT_DIR) to the one folder 'path' may name"
        )
    if not isinstance(raw, str) or not raw.strip() or "\0" in raw:
        raise ValueError("'path' must be a non-empty string naming a file in the import folder")
    try:
        base = folder.resolve(strict=True)
    except OSError as exc:
        raise ImportRefused(f"the import folder cannot be used ({exc.strerror or exc})") from None
    given = Path(raw) if Path(raw).is_absolute() else base / raw
    # Judged by its text before anything is looked up, so an outside path never says whether it exists.
    if not _inside(Path(os.path.normpath(given)), (base, Path(os.path.abspath(folder)))):
        raise ImportRefused(f"{clip(raw)} is outside the import folder")
    try:
        real = given.resolve(strict=True)
    except (OSError, RuntimeError):  # missing, a dangling or looping symlink
        raise ValueError(f"no such file in the import folder: {clip(raw)}") from None
    if not _inside(real, (base,)):
        raise ImportRefused(f"{clip(raw)} leads outside the import folder")
    try:
        # O_NOFOLLOW: a symlink swapped in after resolve() is refused; O_NONBLOCK: a FIFO cannot hang the open.
        fd = os.open(real, os.O_RDONLY | os.O_NOFOLLOW | os.O_NONBLOCK | os.O_CLOEXEC)
    except OSError as exc:
        raise ValueError(f"cannot open {clip(raw)} ({exc.strerror or exc})") from None
    if not stat.S_ISREG(os.fstat(fd).st_mode):
        os.close(fd)
        raise ValueError(f"{clip(raw)} is not a regular file")
    with os.fdopen(fd, "rb") as handle:
        chunks, size = [], 0
        while chunk := handle.read(min(1 << 20, limit + 1 - size)):
            chunks.append(chunk)
            size += len(chunk)
            if size > limit:
                raise ValueError(f"{clip(raw)} is over the {limit}-byte limit")
    return b"".join(chunks)


def _inside(path: Path, folders: tuple[Path, ...]) -> bool:
    return any(path.is_relative_to(folder) for folder in folders)
