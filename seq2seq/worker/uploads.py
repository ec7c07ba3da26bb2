"""Fine-tune pairs from a request to the job's JSONL file: checked line by line off the event loop, never held whole."""

from __future__ import annotations

import asyncio
import json
from collections.abc import AsyncIterator, Iterable
from dataclasses import dataclass
from pathlib import Path

from seq2seq.protocol import loads_json, pair_from_json

MAX_LINE_BYTES = 1 << 20  # a pair is three turns of at most 4,000 characters: far below this even escaped
FEED_BYTES = 1 << 20  # body bytes handed to the parsing thread at a time


@dataclass(frozen=True)
class PairsFile:
    """Checked, normalised pairs in a JSONL file (what a job trains on), and how many."""

    path: Path
    count: int


class PairsWriter:
    """Writes pairs to `path` as they come (from JSONL bytes or from objects); `finish` returns the file."""

    def __init__(self, path: Path):
        self.path, self.count = path, 0
        self._line, self._rest = 0, b""
        self._file = path.open("w", encoding="utf-8")

    def add(self, pair: dict) -> None:
        """One pair already checked by pair_from_json; its group keeps it whole in the held-out split."""
        self._file.write(json.dumps({"group": f"upload:{self.count}", **pair}, ensure_ascii=False) + "\n")
        self.count += 1

    def feed(self, data: bytes) -> None:
        """More JSONL bytes; only "\\n" ends a line (JSON strings may hold U+2028 and friends)."""
        lines = (self._rest + data).split(b"\n")
        self._rest = lines.pop()
        for raw in lines:
            self._parse(raw)
        if len(self._rest) > MAX_LINE_BYTES:
            raise ValueError(f"line {self._line + 1} is longer than {MAX_LINE_BYTES} bytes")

    def finish(self) -> PairsFile:
        if self._rest:
            self._parse(self._rest)
            self._rest = b""
        self._file.close()
        return PairsFile(self.path, self.count)

    def discard(self) -> None:
        self._file.close()
        self.path.unlink(missing_ok=True)

    def _parse(self, raw: bytes) -> None:
        self._line += 1
        if not raw.strip():
            return
        try:
            obj = loads_json(raw)
        except ValueError as exc:
            raise ValueError(f"line {self._line}: {exc}") from None
        self.add(pair_from_json(obj, f"line {self._line}"))


async def receive_jsonl(chunks: AsyncIterator[bytes], path: Path) -> PairsFile:
    """A JSONL body → a PairsFile; the bytes are parsed in a thread a block at a time, as they arrive."""
    writer = PairsWriter(path)
    try:
        block = bytearray()
        async for chunk in chunks:
            block += chunk
            if len(block) >= FEED_BYTES:
                await asyncio.to_thread(writer.feed, bytes(block))
                block.clear()
        await asyncio.to_thread(writer.feed, bytes(block))
        return await asyncio.to_thread(writer.finish)
    except BaseException:
        writer.discard()
        raise


def write_pairs(pairs: Iterable[dict], path: Path) -> PairsFile:
    """Pairs already checked (a small JSON body, a file on the worker) → a PairsFile; run it in a thread."""
    writer = PairsWriter(path)
    try:
        for pair in pairs:
            writer.add(pair)
        return writer.finish()
    except BaseException:
        writer.discard()
        raise
