#!/bin/sh
# Banter's container entrypoint. Checks the settings people most often get wrong, with a message that
# says what to do; prepares the volumes; runs the database migrations before the bot; then `exec`s the
# command, so the bot or the worker gets the container's signals directly.
#   python -m bot                 the bot (migrations first; a local worker of its own if BANTER_WORKER_URL is empty)
#   python -m seq2seq serve ...   the model worker (models volume seeded with the shipped model on first start)
#   anything else                 run as given (a shell, alembic, python -m seq2seq reply ...)
set -eu
cd /app

MODELS=/app/models
SHIPPED=/app/models-shipped
DATA=/app/data

say() { echo "banter-entrypoint: $*" >&2; }
die() { say "error: $*"; exit 78; }  # 78: EX_CONFIG, a setting to fix, not a crash

role=other
if [ "$#" -ge 3 ] && [ "${2:-}" = "-m" ]; then
  case "$1" in python|python3|/opt/venv/bin/python)
    case "$3" in
      bot) role=bot ;;
      seq2seq) [ "${4:-}" = "serve" ] && role=worker ;;
    esac ;;
  esac
fi

writable() {  # writable DIR WHAT SERVICE
  [ -w "$1" ] && return 0
  die "cannot write to $1 ($2) as uid $(id -u): the directory belongs to uid $(stat -c %u "$1")." \
      "A volume created by an older image or a bind mount owned by another user does this. Fix it once with:" \
      "docker compose run --rm --user root --entrypoint chown $3 -R 10001:10001 $1"
}

seed_models() {
  # The shipped model is v2 (transformer.json). A volume from a v1 image holds the v1 shipped model in
  # default/: it is replaced (the worker serves only v2), while fine-tuned v1 versions stay, listed as retired.
  [ -f "$MODELS/default/transformer.json" ] && return 0
  [ -f "$SHIPPED/default/transformer.json" ] || die "the image has no shipped model in $SHIPPED/default"
  if [ -f "$MODELS/default/config.json" ]; then
    say "upgrade: replacing the v1 model in $MODELS/default with the shipped v2 model"
  else
    say "first start: copying the shipped model into $MODELS/default"
  fi
  tmp="$MODELS/.tmp-seed-$(hostname)"  # .tmp- directories are ignored and cleaned up by the worker
  rm -rf "$tmp" && cp -R "$SHIPPED/default" "$tmp"
  if [ -d "$MODELS/default" ] && [ ! -f "$MODELS/default/transformer.json" ]; then  # v1, or half-copied by a crash
    old="$MODELS/.tmp-old-default-$(hostname)"
    rm -rf "$old"; mv -T "$MODELS/default" "$old" 2>/dev/null || true; rm -rf "$old"
  fi
  mv -T "$tmp" "$MODELS/default" 2>/dev/null || rm -rf "$tmp"  # else another worker seeded it meanwhile
}

migrate() {
  # SQLite is there at once; a database server (the postgres profile) may still be starting: retry.
  url=${BANTER_DATABASE_URL:-}
  wait_s=${BANTER_DB_WAIT_SECONDS:-90}
  case "$url" in ""|sqlite*) wait_s=0 ;; esac
  start=$(date +%s)
  while ! out=$(alembic upgrade head 2>&1); do
    if [ $(( $(date +%s) - start )) -ge "$wait_s" ]; then
      printf '%s\n' "$out" | tail -n 15 >&2
      die "the database migrations failed (alembic upgrade head; output above). Check BANTER_DATABASE_URL" \
          "and, for PostgreSQL, that the postgres service is up: docker compose logs postgres"
    fi
    say "database not reachable yet; retrying ($(printf '%s\n' "$out" | tail -n 1 | cut -c1-160))"
    sleep 2
  done
  printf '%s\n' "$out" | grep -E 'Running upgrade' >&2 || true
  say "database schema is current"
}

lock_data() {  # one bot per data volume: two bots on one token answer every message twice
  # fd 9 stays open in the exec'd process, so the lock lasts exactly as long as the bot runs.
  # (Workers may share a models volume: replicas behind a load balancer do, see README "Scaling".)
  exec 9>"$DATA/.bot.lock"
  flock -n 9 || die "another bot is already running on this volume ($DATA); two would answer every message" \
    "twice. Stop the other one first (both pairs up? docker compose --profile gpu ps)."
}

case "$role" in
  bot)
    # Console mode (docker run -it banter python -m bot --console) needs no Discord token.
    case " $* " in
      *" --console "*) ;;
      *) [ -n "${DISCORD_TOKEN:-}" ] || die "DISCORD_TOKEN is not set. Copy docker/env.example to .env, put the" \
           "bot token there (Discord developer portal -> your application -> Bot -> Reset Token), and start again." ;;
    esac
    if [ -n "${BANTER_WORKER_URL:-}" ]; then
      [ -n "${BANTER_WORKER_TOKEN:-}" ] || die "BANTER_WORKER_TOKEN is not set; the bot needs the secret the" \
        "worker at $BANTER_WORKER_URL was started with. Set it in .env (see docker/env.example)."
    else
      # No worker URL: the bot starts a worker of its own, on loopback, in this container.
      writable "$MODELS" "model versions" bot
      seed_models
    fi
    writable "$DATA" "the database and the bot's state" bot
    lock_data
    migrate
    ;;
  worker)
    if [ -z "${BANTER_WORKER_TOKEN:-}" ]; then
      case " $* " in
        *" --host 127."*|*" --host localhost "*|*" --host ::1 "*) ;;
        *" --host "*) die "BANTER_WORKER_TOKEN is not set; the worker listens on the network and needs a shared" \
                          "secret. Set it in .env (see docker/env.example); the bot gets the same value." ;;
      esac
    fi
    writable "$MODELS" "model versions" worker
    seed_models
    ;;
esac

exec "$@"
