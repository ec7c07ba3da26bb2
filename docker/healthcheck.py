"""The image's HEALTHCHECK, for whichever process the container runs (exit 0 healthy, 1 not).

- worker (`python -m seq2seq serve`): GET /readyz on its port answers 200, i.e. a model is loaded.
- bot (`python -m bot`): if the bot keeps a heartbeat file (BANTER_HEARTBEAT_FILE, touched while it is
  connected to Discord), that file changed within BANTER_HEARTBEAT_MAX_AGE seconds (default 120).
  Without the file there is nothing more to check than that the container runs.
Standard library only, and no TensorFlow import: it runs every few seconds.
"""

from __future__ import annotations

import os
import sys
import time
import urllib.error
import urllib.request
from pathlib import Path


def command() -> list[str]:
    """The container's main command: PID 1, or what docker-init/tini runs when PID 1 is an init."""
    args = Path("/proc/1/cmdline").read_bytes().decode(errors="replace").split("\0")
    args = [a for a in args if a]
    if args and os.path.basename(args[0]) in ("docker-init", "tini", "tini-static", "dumb-init"):
        args = args[args.index("--") + 1 :] if "--" in args else args[1:]
    return args


def role(args: list[str]) -> str:
    if "-m" in args:
        module = args[args.index("-m") + 1 : args.index("-m") + 3]
        if module[:1] == ["bot"]:
            return "bot"
        if module == ["seq2seq", "serve"]:
            return "worker"
    return "other"


def check_worker(args: list[str]) -> str | None:
    port = os.environ.get("BANTER_WORKER_PORT", "8500")
    if "--port" in args and args.index("--port") + 1 < len(args):
        port = args[args.index("--port") + 1]
    request = urllib.request.Request(f"http://127.0.0.1:{port}/readyz")
    token = os.environ.get("BANTER_WORKER_TOKEN", "")
    if token:
        request.add_header("Authorization", f"Bearer {token}")
    try:
        with urllib.request.urlopen(request, timeout=4) as response:
            return None if response.status == 200 else f"/readyz answered {response.status}"
    except urllib.error.HTTPError as exc:
        return f"/readyz answered {exc.code}: {exc.read(200).decode(errors='replace')}"
    except OSError as exc:
        return f"/readyz unreachable: {exc}"


def check_bot() -> str | None:
    path = os.environ.get("BANTER_HEARTBEAT_FILE", "")
    if not path or not os.path.exists(path):
        return None
    age = time.time() - os.path.getmtime(path)
    max_age = float(os.environ.get("BANTER_HEARTBEAT_MAX_AGE", "120"))
    return None if age <= max_age else f"heartbeat {path} is {age:.0f} s old (limit {max_age:.0f} s)"


def main() -> int:
    args = command()
    kind = role(args)
    problem = check_worker(args) if kind == "worker" else check_bot() if kind == "bot" else None
    if problem:
        print(f"unhealthy {kind}: {problem}")
        return 1
    print(f"healthy {kind}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
