"""`chat` (an interactive terminal conversation) and `reply` (one answer, for scripts), on a v2 model."""

from __future__ import annotations

import sys
from collections.abc import Callable
from pathlib import Path

from seq2seq import model_dir
from seq2seq.engine.decoding import DecodeOptions

HISTORY_TURNS = 4  # turns kept as context; the model reads the last `context_turns` of them

ReplyFn = Callable[[list[list[str]], DecodeOptions], list[str]]  # conversations (turns, oldest first), options


def open_model(path: Path, command: str = "chat") -> ReplyFn:
    """Replies from a v2 model directory through the engine that serves it (the options in pieces, as the worker
    maps them); a retired v1 directory is refused with what to use instead."""
    from seq2seq.engine.decode import Engine
    from seq2seq.engine.options import EngineOptions

    model_dir.refuse_v1(path, command)
    engine = Engine(model_dir.engine_dir(path))
    return lambda conversations, options: engine.reply_batch(conversations, EngineOptions.from_decode_options(options))


def main(args, options: DecodeOptions) -> int:
    reply = open_model(args.model, args.command)
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
