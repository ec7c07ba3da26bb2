"""Docker figures: image size, build time (cold, warm, after a bot-code change), `compose up` to the first
reply, and each container's memory at rest. Targets: image under 2 GB, bot container under 200 MB.

    .venv/bin/python benchmarks/docker_bench.py --json bench-results/docker.json
    .venv/bin/python benchmarks/docker_bench.py --skip-cold        # minutes shorter: no --no-cache build

Needs a running Docker engine (../shared/tools/docker-up starts one here) and Compose. Builds run under
`nice -n 10`. Without models/default/ in the checkout the image carries a tiny model trained during the
build (as the smoke test does): the worker's memory then is not the shipped model's.
The stack runs against the local Discord test server through scripts/docker_smoke_driver.py.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import re
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
IMAGE = "banter:bench"
PROJECT = "banterbench"
# What .dockerignore lets into the build context, copied for the "source changed" build.
CONTEXT = [
    "Dockerfile",
    ".dockerignore",
    "pyproject.toml",
    "config.toml",
    "alembic.ini",
    "bot",
    "seq2seq",
    "migrations",
    "docker",
    "models/default",
]
TARGETS = {"image_gb": 2.0, "bot_memory_mb": 200.0}


def run(*args: str, **kwargs) -> subprocess.CompletedProcess:
    return subprocess.run(args, check=True, text=True, capture_output=True, **kwargs)


def build(context: Path, build_args: list[str], no_cache: bool = False) -> float:
    start = time.monotonic()
    cmd = ["nice", "-n", "10", "docker", "build", "-q", "-t", IMAGE, *build_args, str(context)]
    if no_cache:
        cmd.insert(5, "--no-cache")
    subprocess.run(cmd, check=True, stdout=subprocess.DEVNULL)
    return round(time.monotonic() - start, 1)


def compose_command() -> list[str]:
    if subprocess.run(["docker", "compose", "version"], capture_output=True).returncode == 0:
        return ["docker", "compose"]
    if shutil.which("docker-compose"):
        return ["docker-compose"]
    raise SystemExit("neither 'docker compose' nor 'docker-compose' is installed")


def bridge_address() -> str:
    """The host's address on Docker's default bridge (as scripts/docker-smoke.sh finds it)."""
    out = run("docker", "network", "inspect", "bridge", "-f", "{{range .IPAM.Config}}{{.Gateway}}{{end}}").stdout
    if not out.strip():
        match = re.search(r"inet ([\d.]+)/", run("ip", "-4", "-o", "addr", "show", "docker0").stdout)
        out = match[1] if match else ""
    if not out.strip():
        raise SystemExit("cannot find the Docker bridge's address")
    return out.strip()


def mebibytes(text: str) -> float:
    """'52.3MiB' / '1.2GiB' / '900kB' (docker stats) -> MB (10^6 bytes)."""
    match = re.fullmatch(r"([\d.]+)\s*([kKMGT]?i?B)", text.strip())
    if not match:
        raise ValueError(f"unexpected memory figure {text!r}")
    factors = {"B": 1, "kB": 1e3, "KiB": 1024, "MB": 1e6, "MiB": 2**20, "GB": 1e9, "GiB": 2**30}
    return round(float(match[1]) * factors[match[2]] / 1e6, 1)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--json", type=Path, help="write the figures here")
    parser.add_argument("--skip-cold", action="store_true", help="no --no-cache build (it downloads TensorFlow)")
    parser.add_argument("--rest", type=float, default=30, help="seconds idle before measuring memory")
    args = parser.parse_args()
    if subprocess.run(["docker", "info"], capture_output=True).returncode != 0:
        raise SystemExit("no Docker engine: start one (here: ../shared/tools/docker-up)")

    shipped = (REPO / "models" / "default" / "config.json").exists()
    build_args = (
        [] if shipped else ["--build-arg", "PRESET=tiny", "--build-arg", "TRAIN_ARGS=--limit 1500 --max-steps 60"]
    )
    figures: dict = {"model": "models/default" if shipped else "tiny, trained in the build (no models/default)"}

    # Builds. Cold: nothing cached but the base image. Warm: everything cached. Source change: a copy
    # of the context with one line added to bot/__init__.py, so only the layers after COPY bot/ rebuild.
    if not args.skip_cold:
        figures["build_cold_s"] = build(REPO, build_args, no_cache=True)
    figures["build_warm_s"] = build(REPO, build_args)
    with tempfile.TemporaryDirectory(prefix="banter-docker-bench-") as tmp:
        ctx = Path(tmp)
        for name in CONTEXT:
            src = REPO / name
            if src.is_dir():
                shutil.copytree(src, ctx / name, ignore=shutil.ignore_patterns("__pycache__"))
            elif src.exists():
                shutil.copy2(src, ctx / name)
        with (ctx / "bot" / "__init__.py").open("a") as handle:
            handle.write(f"# docker_bench {time.time()}\n")
        figures["build_after_bot_change_s"] = build(ctx, build_args)
    build(REPO, build_args)  # the image tag back to the checkout's source (cached)
    figures["image_bytes"] = int(run("docker", "image", "inspect", "-f", "{{.Size}}", IMAGE).stdout)
    figures["image_gb"] = round(figures["image_bytes"] / 1e9, 3)

    # The stack: compose up -> first reply, memory at rest, down + up -> reply.
    compose = [*compose_command(), "-p", PROJECT, "-f", str(REPO / "docker-compose.yml")]
    with tempfile.TemporaryDirectory(prefix="banter-docker-bench-") as tmp:
        out = Path(tmp) / "smoke.json"
        env = {**os.environ, "BANTER_IMAGE": IMAGE}
        proc = subprocess.run(
            [
                sys.executable,
                str(REPO / "scripts" / "docker_smoke_driver.py"),
                "--compose",
                " ".join(compose),
                "--bind",
                bridge_address(),
                "--rest",
                str(args.rest),
                "--json",
                str(out),
            ],
            env=env,
        )
        smoke = json.loads(out.read_text()) if out.exists() else {"ok": False, "steps": []}
    figures["stack_ok"] = smoke["ok"] and proc.returncode == 0
    figures["up_to_worker_ready_s"] = next((s["at_s"] for s in smoke["steps"] if s["step"] == "worker ready"), None)
    figures["up_to_first_reply_s"] = smoke.get("first_reply_s")
    if smoke.get("second_reply_s") is not None:
        figures["restart_up_to_reply_s"] = round(smoke["second_reply_s"] - smoke["second_up_started_s"], 2)
    for service, usage in smoke.get("memory_at_rest", {}).items():
        figures[f"{service}_memory_mb"] = mebibytes(usage)
    figures["memory_rest_s"] = args.rest
    figures["targets"] = TARGETS
    figures["meets_targets"] = (
        figures["image_gb"] < TARGETS["image_gb"]
        and figures.get("bot_memory_mb", float("inf")) < TARGETS["bot_memory_mb"]
    )
    figures["machine"] = {
        "cpus": os.cpu_count(),
        "load_average": [round(x, 2) for x in os.getloadavg()],
        "python": platform.python_version(),
        "docker": run("docker", "version", "-f", "{{.Server.Version}}").stdout.strip(),
        "compose": " ".join(compose[:2]) if compose[0] == "docker" else compose[0],
    }
    text = json.dumps(figures, indent=2)
    print(text)
    if args.json:
        args.json.parent.mkdir(parents=True, exist_ok=True)
        args.json.write_text(text + "\n")
    return 0 if figures["stack_ok"] else 1


if __name__ == "__main__":
    raise SystemExit(main())
