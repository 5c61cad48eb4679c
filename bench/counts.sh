#!/usr/bin/env bash
# bench/counts.sh — what one full sign-in flow (authorize → token → userinfo) costs `sesame serve`
# in counts that the machine's noise does not change: system calls by name (strace -c) and
# user-space instructions (valgrind's callgrind). Timings on a shared 2-core VM move by ±10%;
# these do not, so they show what a change did even while other work runs.
#
# Usage: bench/counts.sh [--bin PATH]… [--alg RS256|ES256] [--db sqlite|postgres] [--out DIR]
#   --bin may be given several times (e.g. the binary of the commit before a change, then this
#   one): each is measured the same way, one after the other, and printed side by side.
#
# Method: the server runs pinned to core 0 with a fresh SQLite database (or PostgreSQL database);
# the load driver (`sesame-bench run`, 4 virtual users, on core 1) logs in once per user and then
# repeats full flows. Each count is taken for two run lengths, and the figure per flow is the
# difference of the totals divided by the difference of the flows: start-up and the four logins
# (Argon2 alone is ~10^8 instructions each) cancel out. Every run starts from a copy of one
# database that already holds the signing keys (their generation is large and random).
set -euo pipefail

ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
# shellcheck source=bench/lib.sh
. "$ROOT/bench/lib.sh"
BINS=()
ALG=RS256
DB=sqlite
PG_ADMIN="${SESAME_BENCH_PG_ADMIN:-postgres://postgres@127.0.0.1:5432/test}"
OUT="$ROOT/bench/results/counts"
while [ $# -gt 0 ]; do
  case "$1" in
    --bin) BINS+=("$2"); shift 2 ;;
    --alg) ALG="$2"; shift 2 ;;
    --db) DB="$2"; shift 2 ;;
    --out) OUT="$2"; shift 2 ;;
    -h|--help) sed -n '2,16p' "$0" | sed 's/^# \{0,1\}//'; exit 0 ;;
    *) echo "counts.sh: unknown argument $1" >&2; exit 2 ;;
  esac
done

if [ ${#BINS[@]} -eq 0 ]; then build_release "$ROOT"; BINS=("$SESAME"); fi
BENCH="${SESAME_BENCH:-${CARGO_TARGET_DIR:-$ROOT/target}/release/sesame-bench}"
[ -x "$BENCH" ] || build_release "$ROOT"
for tool in strace valgrind callgrind_annotate taskset curl python3; do
  command -v "$tool" >/dev/null || { echo "counts.sh: $tool is needed" >&2; exit 1; }
done

mkdir -p "$OUT"
WORK=$(mktemp -d /tmp/sesame-counts.XXXXXX)
SERVER_PID=""
PG_DBS=()
cleanup() {
  [ -n "$SERVER_PID" ] && kill "$SERVER_PID" 2>/dev/null || true
  for d in "${PG_DBS[@]:-}"; do
    [ -n "$d" ] && psql "$PG_ADMIN" -q -c "DROP DATABASE IF EXISTS $d" >/dev/null 2>&1 || true
  done
  rm -rf "$WORK"
}
trap cleanup EXIT

write_bench_config "$WORK/sesame.toml"

# prepare BIN: a database with the user, the client and the signing keys (a first start of the
# server makes them: RSA key generation is ~10^9 instructions, and random, so it must not fall in
# a measured run); sets TEMPLATE (a SQLite file, or a PostgreSQL database to copy), ID, SECRET.
prepare() {
  local bin="$1" n="t$RANDOM$RANDOM" db creds port pid
  if [ "$DB" = postgres ]; then
    psql "$PG_ADMIN" -q -c "CREATE DATABASE sesame_counts_$n" >/dev/null
    PG_DBS+=("sesame_counts_$n")
    db="${PG_ADMIN%/*}/sesame_counts_$n"
    TEMPLATE="sesame_counts_$n"
    export SESAME_ENCRYPTION_KEY="${SESAME_ENCRYPTION_KEY:-$("$bin" keys encryption-key)}"
  else
    mkdir -p "$WORK/$n"
    db="sqlite://$WORK/$n/sesame.db"
    TEMPLATE="$WORK/$n"
  fi
  local sesame=("$bin" --config "$WORK/sesame.toml" --database "$db")
  "${sesame[@]}" users add --username bench --password "$PASSWORD" --email b@example.com >/dev/null 2>&1
  creds=$("${sesame[@]}" clients add --name bench --redirect-uri "$REDIRECT_URI" --skip-consent \
    --id-token-alg "$ALG" --json 2>/dev/null)
  ID=$(json_field client_id <<<"$creds")
  SECRET=$(json_field client_secret <<<"$creds")
  port=$(free_port)
  "${sesame[@]}" serve --issuer "http://127.0.0.1:$port" --listen "127.0.0.1:$port" >/dev/null 2>&1 &
  pid=$!
  wait_answer "http://127.0.0.1:$port/.well-known/openid-configuration" "$pid" ||
    { echo "counts.sh: $bin did not start" >&2; exit 1; }
  kill -INT "$pid"
  wait "$pid" 2>/dev/null || true
}

# one BIN TOOL SECONDS: a copy of the prepared database, the server under TOOL (strace|callgrind),
# one driver run; prints "TOTAL FLOWS" (TOTAL: system calls, or instructions).
one() {
  local bin="$1" tool="$2" secs="$3" n="$RANDOM$RANDOM" db port issuer
  if [ "$DB" = postgres ]; then
    psql "$PG_ADMIN" -q -c "CREATE DATABASE sesame_counts_$n TEMPLATE $TEMPLATE" >/dev/null
    PG_DBS+=("sesame_counts_$n")
    db="${PG_ADMIN%/*}/sesame_counts_$n"
  else
    cp -a "$TEMPLATE" "$WORK/$n"
    db="sqlite://$WORK/$n/sesame.db"
  fi
  local sesame=("$bin" --config "$WORK/sesame.toml" --database "$db")
  local id="$ID" secret="$SECRET"
  port=$(free_port)
  issuer="http://127.0.0.1:$port"
  local wrap=()
  case "$tool" in
    strace) wrap=(strace -f -c -o "$WORK/$n.strace") ;;
    callgrind) wrap=(valgrind --tool=callgrind --callgrind-out-file="$WORK/$n.callgrind") ;;
  esac
  taskset -c 0 "${wrap[@]}" "${sesame[@]}" serve --issuer "$issuer" --listen "127.0.0.1:$port" \
    >"$WORK/$n.log" 2>&1 &
  SERVER_PID=$!
  wait_answer "$issuer/.well-known/openid-configuration" "" 1200 ||
    { echo "counts.sh: the server under $tool did not start; see $WORK/$n.log" >&2; exit 1; }
  taskset -c 1 "$BENCH" run --mode flow --peer sesame --issuer "$issuer" --client-id "$id" \
    --client-secret "$secret" -c 4 -t "$secs" --warmup 0 --redirect-uri "$REDIRECT_URI" \
    --username bench --password "$PASSWORD" --json "$WORK/$n.json" >/dev/null
  # strace: stop its child (the server), and strace prints the summary as it exits.
  if [ "$tool" = strace ]; then pkill -INT -P "$SERVER_PID" || true; else kill -INT "$SERVER_PID"; fi
  wait "$SERVER_PID" 2>/dev/null || true
  SERVER_PID=""
  local flows total
  flows=$(python3 -c 'import json,sys; print(json.load(open(sys.argv[1]))["ops"])' "$WORK/$n.json")
  case "$tool" in
    strace) total=$(awk '$NF == "total" {print $(NF-2)}' "$WORK/$n.strace")
      cp "$WORK/$n.strace" "$OUT/last.strace" ;;
    callgrind) total=$(callgrind_annotate "$WORK/$n.callgrind" 2>/dev/null |
      awk '/PROGRAM TOTALS/ {gsub(",", "", $1); print $1; exit}')
      cp "$WORK/$n.callgrind" "$OUT/last.callgrind" ;;
  esac
  echo "$total $flows"
}

# per_flow BIN TOOL SHORT LONG: the difference method.
per_flow() {
  local a b
  a=$(one "$1" "$2" "$3")
  b=$(one "$1" "$2" "$4")
  python3 - "$a" "$b" <<'PY'
import sys
t1, f1 = map(int, sys.argv[1].split()); t2, f2 = map(int, sys.argv[2].split())
if f2 <= f1:
    sys.exit("counts.sh: the longer run did not complete more flows")
print(f"{(t2 - t1) / (f2 - f1):.1f} {f1} {f2}")
PY
}

printf '| binary | ID token | database | system calls per flow | instructions per flow (user space) |\n'
printf '|---|---|---|--:|--:|\n'
for bin in "${BINS[@]}"; do
  prepare "$bin"
  sys=$(per_flow "$bin" strace 3 8)
  ins=$(per_flow "$bin" callgrind 10 25)
  read -r sys_n _ _ <<<"$sys"
  read -r ins_n f1 f2 <<<"$ins"
  printf '| %s | %s | %s | %.0f | %.2f M |\n' "$bin" "$ALG" "$DB" "$sys_n" \
    "$(python3 -c "print($ins_n / 1e6)")"
  echo "  (callgrind: $f1 and $f2 flows; strace of the last run by name: $OUT/last.strace; callgrind_annotate $OUT/last.callgrind by function)" >&2
done
