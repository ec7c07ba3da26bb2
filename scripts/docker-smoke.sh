#!/usr/bin/env bash
# Docker smoke test (the last step of .ci/run): build the image, start the Compose stack, and check that
# the worker becomes ready, the bot connects to the local Discord-protocol test server and answers a
# mention, and the database survives `down` + `up`. The steps are in scripts/docker_smoke_driver.py.
#
# Needs: a Docker engine (else ../shared/tools/docker-up beside the checkout starts one; DOCKER_UP=path
# overrides), Compose (`docker compose` or `docker-compose`), and the repo's .venv (README's install).
# Env: SMOKE_IMAGE (default banter:smoke), SMOKE_KEEP=1 leaves the stack up, SMOKE_JSON=path for results,
#      SMOKE_POSTGRES=1 runs it with the postgres profile instead of SQLite (needs the postgres:16 image).
set -euo pipefail
exec </dev/null
root=$(cd "$(dirname "$0")/.." && pwd)
cd "$root"
say() { echo "[docker-smoke] $*"; }
fail() { echo "[docker-smoke] error: $*" >&2; exit 1; }

# 1. An engine, and Compose.
if ! docker info >/dev/null 2>&1; then
  up=${DOCKER_UP:-$root/../shared/tools/docker-up}
  [ -x "$up" ] || fail "no Docker engine is running and there is no $up to start one (set DOCKER_UP)"
  say "starting a Docker engine with $up"
  "$up"
fi
if docker compose version >/dev/null 2>&1; then compose=(docker compose)
elif command -v docker-compose >/dev/null; then compose=(docker-compose)
else fail "neither 'docker compose' nor 'docker-compose' is installed"; fi
py=$root/.venv/bin/python
[ -x "$py" ] || fail "no $py: install first (README.md, 'Run the tests')"

# 2. The image. A checkout without the shipped model (models/default/, written when its training
#    ends; v2: transformer.json) gets a tiny model trained during the build instead, and says so.
image=${SMOKE_IMAGE:-banter:smoke}
build_args=()
if [ ! -f models/default/transformer.json ]; then
  say "models/default/ is not in this checkout: building with a tiny model (PRESET=tiny) instead"
  build_args=(--build-arg PRESET=tiny --build-arg "TRAIN_ARGS=--limit 1500 --max-steps 60")
fi
say "building $image"
start=$(date +%s)
nice -n 10 docker build -q -t "$image" "${build_args[@]}" . >/dev/null
say "built $image in $(( $(date +%s) - start )) s; $(docker image inspect -f '{{.Size}}' "$image" | awk '{printf "%.2f GB", $1/1e9}')"

# 3. The stack, driven against the test server on the Docker bridge's address (host side).
bridge=$(docker network inspect bridge -f '{{range .IPAM.Config}}{{.Gateway}}{{end}}' 2>/dev/null || true)
[ -n "$bridge" ] || bridge=$(ip -4 -o addr show docker0 2>/dev/null | awk '{split($4, a, "/"); print a[1]; exit}')
[ -n "$bridge" ] || fail "cannot find the Docker bridge's address (docker network inspect bridge)"
project=bantersmoke
export BANTER_IMAGE=$image
no_env=$(mktemp)  # `down` needs an env file to parse docker-compose.yml; the driver writes the real one
cleanup() { BANTER_ENV_FILE=$no_env "${compose[@]}" -p "$project" down -v >/dev/null 2>&1 || true; }
cleanup  # leftovers of a killed run
if [ "${SMOKE_KEEP:-}" = 1 ]; then trap 'rm -f "$no_env"' EXIT; else trap 'cleanup; rm -f "$no_env"' EXIT; fi
args=(--compose "${compose[*]} -p $project -f $root/docker-compose.yml" --bind "$bridge")
[ -n "${SMOKE_JSON:-}" ] && args+=(--json "$SMOKE_JSON")
[ "${SMOKE_KEEP:-}" = 1 ] && args+=(--keep)
[ "${SMOKE_POSTGRES:-}" = 1 ] && args+=(--postgres)  # the postgres profile (pulls postgres:16)
say "running the stack (${compose[*]}), test Discord server on $bridge"
"$py" scripts/docker_smoke_driver.py "${args[@]}"
