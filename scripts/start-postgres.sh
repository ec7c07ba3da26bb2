#!/usr/bin/env bash
# Start a local PostgreSQL for Banter's development and CI, on 127.0.0.1:5432.
#
# Idempotent: installs Debian's `postgresql` package if it is missing, creates a cluster if there
# is none, starts it if it is down, and creates the role `banter` and the databases `banter` and
# `banter_test` if they do not exist. When everything is already there it returns in well under
# a second. Needs root (or sudo) on Debian/Ubuntu; never reads stdin.
#
# Then:  BANTER_TEST_POSTGRES_URL=postgresql+asyncpg://banter:banter@127.0.0.1:5432/banter_test
# Env:   BANTER_PG_PASSWORD (default "banter"), BANTER_PG_PORT (default 5432).
set -euo pipefail
exec </dev/null
export DEBIAN_FRONTEND=noninteractive

PORT="${BANTER_PG_PORT:-5432}"
PASSWORD="${BANTER_PG_PASSWORD:-banter}"
SUDO=""
if [ "$(id -u)" -ne 0 ]; then
  command -v sudo >/dev/null || { echo "start-postgres: run as root (or install sudo)" >&2; exit 1; }
  SUDO="sudo -n"
fi

say() { printf 'start-postgres: %s\n' "$*"; }
as_postgres() { $SUDO runuser -u postgres -- "$@"; }
psql_q() { as_postgres psql -p "$PORT" -qAtX -v ON_ERROR_STOP=1 "$@"; }

# 1. The package.
if ! command -v pg_lsclusters >/dev/null || ! ls /usr/lib/postgresql/*/bin/postgres >/dev/null 2>&1; then
  say "installing Debian's postgresql package"
  $SUDO apt-get update -qq
  $SUDO apt-get install -y -qq --no-install-recommends postgresql >/dev/null
fi
VERSION="$(ls /usr/lib/postgresql | sort -V | tail -n 1)"

# 2. A cluster on our port, listening on loopback only.
CLUSTER="$(pg_lsclusters -h | awk -v p="$PORT" '$3 == p {print $1" "$2; exit}')"
if [ -z "$CLUSTER" ]; then
  if pg_lsclusters -h | awk '{print $1" "$2}' | grep -qx "$VERSION main"; then
    NAME="banter"  # "main" exists on another port: leave it alone
  else
    NAME="main"
  fi
  say "creating cluster $VERSION/$NAME on port $PORT"
  $SUDO pg_createcluster --port "$PORT" "$VERSION" "$NAME" >/dev/null
  CLUSTER="$VERSION $NAME"
fi
read -r CVER CNAME <<<"$CLUSTER"
# A drop-in (Debian's postgresql.conf includes conf.d/) rather than editing postgresql.conf.
DROPIN="/etc/postgresql/$CVER/$CNAME/conf.d/banter.conf"
WANT="listen_addresses = '127.0.0.1'"
if [ "$($SUDO cat "$DROPIN" 2>/dev/null)" != "$WANT" ]; then
  printf '%s\n' "$WANT" | $SUDO tee "$DROPIN" >/dev/null
  $SUDO chown postgres:postgres "$DROPIN"
  if pg_lsclusters -h | awk -v v="$CVER" -v n="$CNAME" '$1 == v && $2 == n && $4 == "online"' | grep -q .; then
    $SUDO pg_ctlcluster "$CVER" "$CNAME" restart
  fi
fi

# 3. Running.
if ! pg_isready -q -h 127.0.0.1 -p "$PORT"; then
  say "starting cluster $CVER/$CNAME"
  $SUDO pg_ctlcluster "$CVER" "$CNAME" start
  for _ in $(seq 1 50); do pg_isready -q -h 127.0.0.1 -p "$PORT" && break; sleep 0.2; done
  pg_isready -q -h 127.0.0.1 -p "$PORT" || { echo "start-postgres: server did not come up" >&2; exit 1; }
fi

# 4. Role and databases (the password travels on stdin, not on a command line).
if [ "$(psql_q -c "SELECT 1 FROM pg_roles WHERE rolname = 'banter'")" != "1" ]; then
  printf "CREATE ROLE banter LOGIN CREATEDB PASSWORD '%s';\n" "${PASSWORD//\'/\'\'}" | psql_q -f -
fi
for db in banter banter_test; do
  if [ "$(psql_q -c "SELECT 1 FROM pg_database WHERE datname = '$db'")" != "1" ]; then
    as_postgres createdb -p "$PORT" -O banter "$db"
  fi
done
say "PostgreSQL $CVER ready on 127.0.0.1:$PORT (role banter; databases banter, banter_test)"
