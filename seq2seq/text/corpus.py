"""Where dialogue pairs come from: the chit-chat corpus or a user's TSV/JSONL file."""

from __future__ import annotations

import hashlib
import json
from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from pathlib import Path


@dataclass(frozen=True)
class Pair:
    """One exchange: what was said (with the turn before it, if any) and the reply."""

    query: str
    reply: str
    context: str = ""  # the turn before the query; empty when unknown
    group: str = ""  # conversation id: a split never cuts a conversation in two
    server: bool = False  # one of the server's own conversations (a fine-tune's new pair), not the base corpus


def chitchat_pairs() -> list[Pair]:
    """Pairs (turn i, turn i+1) of every conversation of the `chitchat-dataset` package."""
    import chitchat_dataset

    pairs: list[Pair] = []
    for convo_id, convo in chitchat_dataset.Dataset().items():
        # A turn is one speaker's consecutive messages joined by a space.
        turns = [" ".join(m["text"] for m in turn).strip() for turn in convo["messages"]]
        turns = [t for t in turns if t]
        for i in range(len(turns) - 1):
            context = turns[i - 1] if i > 0 else ""
            pairs.append(Pair(turns[i], turns[i + 1], context, convo_id))
    return pairs


def chatterbot_pairs(language: str = "english") -> list[Pair]:
    """Pairs from the `chatterbot-corpus` package's YAML files: a domain the chit-chat corpus lacks."""
    import chatterbot_corpus
    import yaml

    folder = Path(chatterbot_corpus.__file__).parent / "data" / language
    pairs: list[Pair] = []
    for file in sorted(folder.glob("*.yml")):
        data = yaml.safe_load(file.read_text(encoding="utf-8")) or {}
        for n, convo in enumerate(data.get("conversations") or []):
            turns = [str(t).strip() for t in convo if str(t).strip()]
            for i in range(len(turns) - 1):
                pairs.append(Pair(turns[i], turns[i + 1], turns[i - 1] if i else "", f"{file.stem}:{n}"))
    return pairs


def read_pairs(path: Path) -> list[Pair]:
    """Read `query<TAB>reply[<TAB>previous turn]` lines or JSONL objects with "query" and "reply" (and "context")."""
    return list(iter_pairs(path))


def iter_pairs(path: Path) -> Iterator[Pair]:
    if not path.exists():
        raise FileNotFoundError(f"pairs file not found: {path}")
    with path.open(encoding="utf-8", errors="replace") as handle:
        yield from pairs_from_lines(handle, path)


def pairs_from_lines(lines: Iterable[str], path: Path) -> Iterator[Pair]:
    """The pairs of a file's lines; `path` names the file in messages and decides JSONL by its suffix."""
    jsonl = path.suffix.lower() in (".jsonl", ".json")
    for number, line in enumerate(lines, 1):
        line = line.rstrip("\n").rstrip("\r")
        if not line.strip():
            continue
        if jsonl or line.lstrip().startswith("{"):
            yield _pair_from_json(line, path, number)
        else:
            parts = line.split("\t")
            if len(parts) < 2:
                raise ValueError(f"{path}:{number}: expected 'query<TAB>reply', found no tab")
            context = parts[2] if len(parts) > 2 else ""  # optional: the turn before the query
            yield Pair(parts[0], parts[1], context, group=f"{path.name}:{number}")


def _pair_from_json(line: str, path: Path, number: int) -> Pair:
    try:
        obj = json.loads(line)
        query, reply = obj["query"], obj["reply"]
        if not isinstance(query, str) or not isinstance(reply, str):
            raise TypeError("query and reply must be strings")
    except (ValueError, KeyError, TypeError) as exc:
        raise ValueError(f"{path}:{number}: not a pair object with string 'query' and 'reply' ({exc})") from exc
    context = obj.get("context") or ""
    if isinstance(context, list):
        context = context[-1] if context else ""
    return Pair(query, reply, str(context), str(obj.get("group", f"{path.name}:{number}")))


def is_held_out(group: str, fraction: float) -> bool:
    """Deterministic split by a hash of the conversation id (stable across runs and machines)."""
    digest = hashlib.sha1(group.encode("utf-8")).digest()
    return int.from_bytes(digest[:8], "big") / 2**64 < fraction


def split(pairs: list[Pair], fraction: float) -> tuple[list[Pair], list[Pair]]:
    train = [p for p in pairs if not is_held_out(p.group, fraction)]
    held = [p for p in pairs if is_held_out(p.group, fraction)]
    return train, held


def write_tsv(pairs: list[Pair], path: Path) -> None:
    """TSV with the context as a third column, so evaluation sees what training saw."""
    with path.open("w", encoding="utf-8") as handle:
        for p in pairs:
            row = [_one_line(p.query), _one_line(p.reply)]
            if p.context:
                row.append(_one_line(p.context))
            handle.write("\t".join(row) + "\n")


def _one_line(text: str) -> str:
    return text.replace("\t", " ").replace("\n", " ").replace("\r", " ")
