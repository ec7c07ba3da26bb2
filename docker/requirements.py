"""Print pyproject.toml's runtime dependencies as a requirements list, for the image's dependency layer.

The Dockerfile installs these before it copies the source, so a code change does not reinstall
TensorFlow. `--tensorflow PKG` swaps the tensorflow-cpu requirement for another distribution with
the same version range (the GPU image uses `tensorflow[and-cuda]`).

    python docker/requirements.py pyproject.toml --extra model,cuda --tensorflow 'tensorflow[and-cuda]'
"""

from __future__ import annotations

import argparse
import re
import tomllib
from pathlib import Path

TF_CPU = "tensorflow-cpu"


def requirements(pyproject: Path, extras: list[str], tensorflow: str | None) -> list[str]:
    project = tomllib.loads(pyproject.read_text(encoding="utf-8"))["project"]
    optional = project.get("optional-dependencies", {})
    extras = [e.strip() for group in extras for e in group.split(",") if e.strip()]
    unknown = [e for e in extras if e not in optional]
    if unknown:
        raise SystemExit(f"unknown extra(s) {unknown}; pyproject.toml has {sorted(optional)}")
    reqs = list(project.get("dependencies", []))
    for extra in extras:
        reqs += optional[extra]
    if tensorflow:
        swapped = [re.sub(rf"^{TF_CPU}(?=[\s<>=!~;\[]|$)", tensorflow, r) for r in reqs]
        if swapped == reqs and tensorflow != TF_CPU:
            raise SystemExit(f"no {TF_CPU} requirement to replace in {pyproject}")
        reqs = swapped
    return reqs


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("pyproject", type=Path)
    parser.add_argument(
        "--extra", action="append", default=[], help="optional dependency groups, repeated or comma-separated"
    )
    parser.add_argument("--tensorflow", help=f"distribution to install instead of {TF_CPU}")
    args = parser.parse_args()
    print("\n".join(requirements(args.pyproject, args.extra, args.tensorflow)))


if __name__ == "__main__":
    main()
