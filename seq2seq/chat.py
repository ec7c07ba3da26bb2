"""`chat` (an interactive terminal conversation) and `reply` (one answer, for scripts), on a v2 or v1 model."""

from __future__ import annotations

import sys
from collections.abc import Callable
from pathlib import Path

from seq2seq import model_dir
from seq2seq.engine.decoding import DecodeOptions

HISTORY_TURNS = 4  # turns kept as context; the model reads the last `context_turns` of them

ReplyFn = Callable[[list[list[str]], DecodeOptions], list[str]]  # conversations (turns, oldest first), options


def open_model(path: Path) -> ReplyFn:
    """Replies from a model directory: v2 through the engine that serves it (the options in pieces, as the worker
    maps them), v1 through its NumPy decoder (kept for comparisons)."""
    if model_dir.kind(path) == model_dir.V2:
        from seq2seq.engine.decode import Engine
        from seq2seq.engine.options import EngineOptions

        engine = Engine(model_dir.engine_dir(path))
        return lambda conversations, options: engine.reply_batch(
            conversations, EngineOptions.from_decode_options(options)
        )
    from seq2seq.replier import Replier

    return Replier.load(path).reply_batch


def main(args, options: DecodeOptions) -> int:
    reply = open_model(args.model)
    if args.command == "reply":
        print(reply([[" ".join(args.text)]], options)[0])
        return 0
    return interactive(lambda conversations: reply(conversations, options), f"{args.model} ({options.strategy})")


def interactive(reply: Callable[[list[list[str]]], list[str]], label: str, stdin=None, stdout=None) -> int:
    stdin, stdout = stdin or sys.stdin, stdout or sys.stdout
    prompt = stdin.isatty() and stdout.isatty()
    if prompt:
        print(f"Chatting with {label}. Ctrl-D or /quit to leave, /reset to forget.", file=stdout)
    history: list[str] = []
    while True:
        if prompt:
            print("you> ", end="", file=stdout, flush=True)
        line = stdin.readline()
        if not line:
            break
        text = line.rstrip("\n")
        if text.strip() in ("/quit", "/exit"):
            break
        if text.strip() == "/reset":
            history.clear()
            continue
        history.append(text)
        answer = reply([history[-HISTORY_TURNS:]])[0]
        history.append(answer)
        print(f"bot> {answer}" if prompt else answer, file=stdout, flush=True)
    return 0
