"""`chat` (an interactive terminal conversation) and `reply` (one answer, for scripts)."""

from __future__ import annotations

import sys

from seq2seq.decoding import DecodeOptions
from seq2seq.replier import Replier

HISTORY_TURNS = 4  # turns kept as context; the model reads the last `context_turns` of them


def main(args, options: DecodeOptions) -> int:
    replier = Replier.load(args.model)
    if args.command == "reply":
        print(replier.reply(" ".join(args.text), options))
        return 0
    return interactive(replier, options)


def interactive(replier: Replier, options: DecodeOptions, stdin=None, stdout=None) -> int:
    stdin, stdout = stdin or sys.stdin, stdout or sys.stdout
    prompt = stdin.isatty() and stdout.isatty()
    if prompt:
        print(
            f"Chatting with {replier.path} ({options.strategy}). Ctrl-D or /quit to leave, /reset to forget.",
            file=stdout,
        )
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
        reply = replier.reply_batch([history[-HISTORY_TURNS:]], options)[0]
        history.append(reply)
        print(f"bot> {reply}" if prompt else reply, file=stdout, flush=True)
    return 0
