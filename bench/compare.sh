#!/usr/bin/env bash
# bench/compare.sh — Sesame against the physical limit and against its peers, in one run on one
# machine.
#
#   1. the single-core RS256/ES256 signing rate through aws-lc-rs (`sesame-bench sign-bound`);
#   2. complete authorization-code flows (authorize → token → userinfo) with C virtual users for
#      T seconds against, each pinned to core 0 with the driver on core 1:
#        sesame serve on SQLite, on PostgreSQL (a fresh database), and with ES256 ID tokens;
#        panva's oidc-provider (npm, in-memory adapter, bench/node-op.mjs);
#        django-oidc-provider (PyPI, bench/.venv, gunicorn with one worker, bench/django_op);
#   3. sesame serve with both cores free (the scale-up figures): SQLite; PostgreSQL with one
#      instance, and with two instances of one issuer (one per core) that redeem each other's codes;
#   3b. DPoP-bound flows (RFC 9449: a proof at /token and /userinfo, `token_type: DPoP`) at sesame serve
#      (client added with --dpop) and at oidc-provider (features.dPoP, dpop_bound_access_tokens);
#   4. a table (flows/s, p50, p99, errors, ratios, fraction of the signing bound, RSS) and
#      bench/chart.svg.
#
# Usage: bench/compare.sh [-c C] [-t SECONDS] [--warmup S] [--skip-node] [--skip-django]
#                         [--skip-pg] [--skip-dpop] [--endpoints] [--logins] [--pg-admin URL] [--out DIR]
# --logins runs only the sign-in comparison (issue 15 part 3): sign-ins through the login form on
# SQLite, with the Argon2 memory pool, without it (SESAME_ARGON2_POOL=off: every check allocates, as
# before the pool) and without it under MALLOC_MMAP_THRESHOLD_=1048576 (the earlier advice); prints
# sign-ins/s and the RSS left after the run, as ratios. Use -t 30 or more for >= 1,000 sign-ins.
# Builds with cargo into $CARGO_TARGET_DIR (default: target/). Needs taskset, curl, python3;
# node/npm for the oidc-provider peer; psql and a PostgreSQL server for the PostgreSQL run.
set -euo pipefail

ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
BENCH_DIR="$ROOT/bench"
# shellcheck source=bench/lib.sh
. "$BENCH_DIR/lib.sh"
C=16
T=10
WARMUP=1
RUN_NODE=1
RUN_DJANGO=1
RUN_PG=1
RUN_DPOP=1
RUN_ENDPOINTS=0
RUN_LOGINS=0
PG_ADMIN="${SESAME_BENCH_PG_ADMIN:-postgres://postgres@127.0.0.1:5432/test}"
OUT="$BENCH_DIR/results"
SERVER_CORE=0
DRIVER_CORE=1

usage() { sed -n '2,24p' "$0" | sed 's/^# \{0,1\}//'; }

while [ $# -gt 0 ]; do
  case "$1" in
    -c) C="$2"; shift 2 ;;
    -t) T="$2"; shift 2 ;;
    --warmup) WARMUP="$2"; shift 2 ;;
    --skip-node) RUN_NODE=0; shift ;;
    --skip-django) RUN_DJANGO=0; shift ;;
    --skip-pg) RUN_PG=0; shift ;;
    --skip-dpop) RUN_DPOP=0; shift ;;
    --endpoints) RUN_ENDPOINTS=1; shift ;;
    --logins) RUN_LOGINS=1; shift ;;
    --pg-admin) PG_ADMIN="$2"; shift 2 ;;
    --out) OUT="$2"; shift 2 ;;
    -h|--help) usage; exit 0 ;;
    *) echo "compare.sh: unknown argument $1" >&2; usage >&2; exit 2 ;;
  esac
done

say() { printf '\n== %s\n' "$*"; }
warn() { printf 'compare.sh: %s\n' "$*" >&2; }

STARTED=$(date +%s)
mkdir -p "$OUT"
rm -f "$OUT"/*.json "$OUT"/table.md
LOGS="$OUT/logs"
rm -rf "$LOGS"
mkdir -p "$LOGS"
WORK=$(mktemp -d /tmp/sesame-bench.XXXXXX)
PIDS=()

cleanup() {
  local pid
  for pid in "${PIDS[@]:-}"; do
    [ -n "$pid" ] && kill "$pid" 2>/dev/null || true
  done
  for pid in "${PIDS[@]:-}"; do
    [ -n "$pid" ] && wait "$pid" 2>/dev/null || true
  done
  if [ -f "$WORK/pg-databases" ]; then
    while read -r db; do
      psql "$PG_ADMIN" -q -c "DROP DATABASE IF EXISTS $db" >/dev/null 2>&1 || true
    done <"$WORK/pg-databases"
  fi
  rm -rf "$WORK"
}
trap cleanup EXIT
trap 'exit 130' INT TERM

# Pinning: providers on core 0, the driver on core 1 (when there are two cores).
if command -v taskset >/dev/null && [ "$(nproc)" -ge 2 ]; then
  PIN_SERVER=(taskset -c "$SERVER_CORE")
  PIN_DRIVER=(taskset -c "$DRIVER_CORE")
else
  warn "taskset or a second core is missing: running unpinned"
  PIN_SERVER=()
  PIN_DRIVER=()
fi

# wait_ready URL PID NAME: until URL answers 200, PID dies, or 60 s pass.
wait_ready() {
  local url="$1" pid="$2" name="$3" status=0
  wait_answer "$url" "$pid" || status=$?
  case $status in
    0) return 0 ;;
    2) warn "$name exited during start-up; see $LOGS/$name.log:"
       tail -n 15 "$LOGS/$name.log" >&2 || true ;;
    *) warn "$name did not answer $url within 60 s; see $LOGS/$name.log" ;;
  esac
  return 1
}

stop() {
  local pid="$1"
  kill "$pid" 2>/dev/null || true
  wait "$pid" 2>/dev/null || true
}

machine() {
  echo "date:   $(date -u '+%Y-%m-%d %H:%M UTC')"
  echo "nproc:  $(nproc)"
  echo "cpu:    $(grep -m1 'model name' /proc/cpuinfo | cut -d: -f2- | sed 's/^ *//')"
  echo "memory: $(awk '/MemTotal/ {printf "%.1f GiB", $2/1048576}' /proc/meminfo)"
  echo "load:   $(cut -d' ' -f1-3 /proc/loadavg) (1, 5, 15 min)"
  echo "kernel: $(uname -r)"
  echo "runs:   C=$C virtual users, T=$T s measured after ${WARMUP} s warm-up"
}

say "machine"
machine | tee "$OUT/machine.txt"

say "build (cargo build --release -p sesame-server -p sesame-bench)"
build_release "$ROOT"
DRIVER_ARGS=(-c "$C" -t "$T" --warmup "$WARMUP" --redirect-uri "$REDIRECT_URI"
  --username bench --password "$PASSWORD")
RUNS=()
ENDPOINT_RUNS=()

say "single-core signing bound (aws-lc-rs), on core $SERVER_CORE"
"${PIN_SERVER[@]}" "$BENCH" sign-bound --seconds 2 --json "$OUT/sign-bound.json"

CONF="$WORK/sesame.toml"
write_bench_config "$CONF"

# sesame_run NAME DATABASE ALG PINNED [MODE…]: a fresh provider, one driver run per mode.
# CLIENT_EXTRA / DRIVER_EXTRA (arrays, empty unless set): more `clients add` and driver options.
CLIENT_EXTRA=()
DRIVER_EXTRA=()
sesame_run() {
  local name="$1" db="$2" alg="$3" pinned="$4"
  shift 4
  local modes=("${@:-flow}")
  local port issuer creds client_id secret cc_id="" cc_secret="" pid mode label id sec
  port=$(free_port)
  issuer="http://127.0.0.1:$port"
  local sesame=("$SESAME" --config "$CONF" --database "$db")
  "${sesame[@]}" users add --username bench --password "$PASSWORD" \
    --email bench@example.com --name "Bench User" >>"$LOGS/$name.log" 2>&1 || {
    warn "$name: could not add the user; see $LOGS/$name.log"; return 1; }
  creds=$("${sesame[@]}" clients add --name bench --redirect-uri "$REDIRECT_URI" \
    --skip-consent --id-token-alg "$alg" "${CLIENT_EXTRA[@]}" --json 2>>"$LOGS/$name.log") || {
    warn "$name: could not add the client; see $LOGS/$name.log"; return 1; }
  client_id=$(json_field client_id <<<"$creds")
  secret=$(json_field client_secret <<<"$creds")
  if [[ " ${modes[*]} " == *" token-cc "* ]]; then
    # A separate client: one registered with client_credentials gets an empty scope allowlist.
    creds=$("${sesame[@]}" clients add --name bench-cc --redirect-uri "$REDIRECT_URI" \
      --grant-type client_credentials --json 2>>"$LOGS/$name.log") || {
      warn "$name: could not add the client_credentials client"; return 1; }
    cc_id=$(json_field client_id <<<"$creds")
    cc_secret=$(json_field client_secret <<<"$creds")
  fi
  local pin_server=() pin_driver=()
  if [ "$pinned" = yes ]; then pin_server=("${PIN_SERVER[@]}"); pin_driver=("${PIN_DRIVER[@]}"); fi
  # INSTANCES=N (default 1): N servers of one issuer on one database, instance k on core k
  # (pinned=spread); the driver authorizes at one and redeems at the next.
  local k instance_port pids=() instance_args=() pid_args=()
  for k in $(seq 0 $(( ${INSTANCES:-1} - 1 ))); do
    instance_port=$port
    [ "$k" -gt 0 ] && instance_port=$(free_port)
    [ "$pinned" = spread ] && pin_server=(taskset -c "$(( k % $(nproc) ))")
    "${pin_server[@]}" "${sesame[@]}" serve --issuer "$issuer" \
      --listen "127.0.0.1:$instance_port" >>"$LOGS/$name.log" 2>&1 &
    pids+=("$!")
    PIDS+=("$!")
    pid_args+=(--pid "$!")
    [ "${INSTANCES:-1}" -gt 1 ] && instance_args+=(--instance "http://127.0.0.1:$instance_port")
    wait_ready "http://127.0.0.1:$instance_port/.well-known/openid-configuration" "$!" "$name" ||
      { for pid in "${pids[@]}"; do stop "$pid"; done; return 1; }
  done
  pid=${pids[0]}
  sleep 1
  for mode in "${modes[@]}"; do
    label="$name"
    [ "$mode" != flow ] && label="$name $mode"
    id=$client_id sec=$secret
    [ "$mode" = token-cc ] && id=$cc_id sec=$cc_secret
    "${pin_driver[@]}" "$BENCH" run --mode "$mode" --peer sesame --issuer "$issuer" \
      --client-id "$id" --client-secret "$sec" "${DRIVER_ARGS[@]}" "${DRIVER_EXTRA[@]}" "${pid_args[@]}" \
      "${instance_args[@]}" --label "$label" --json "$OUT/${label// /-}.json" || warn "$label: the driver failed"
    if [ -f "$OUT/${label// /-}.json" ]; then
      if [ "$mode" = flow ]; then RUNS+=("$OUT/${label// /-}.json"); else ENDPOINT_RUNS+=("$OUT/${label// /-}.json"); fi
    fi
  done
  for pid in "${pids[@]}"; do stop "$pid"; done
}

# pg_fresh: a new database on the PostgreSQL server (dropped at exit: its name goes to
# $WORK/pg-databases, since this runs in a subshell); prints its URL.
pg_fresh() {
  local name="sesame_bench_$$_$(date +%s%N)"
  command -v psql >/dev/null && psql "$PG_ADMIN" -q -c "CREATE DATABASE $name" >/dev/null 2>>"$LOGS/postgres.log" ||
    return 1
  echo "$name" >>"$WORK/pg-databases"
  echo "${PG_ADMIN%/*}/$name"
}

ENC_KEY=$("$SESAME" keys encryption-key)

if [ "$RUN_LOGINS" = 1 ]; then
  for variant in pool no-pool no-pool-mmap; do
    say "sign-ins, SQLite, core $SERVER_CORE: $variant"
    mkdir -p "$WORK/$variant"
    (
      case "$variant" in
        no-pool) export SESAME_ARGON2_POOL=off ;;
        no-pool-mmap) export SESAME_ARGON2_POOL=off MALLOC_MMAP_THRESHOLD_=1048576 ;;
      esac
      sesame_run "logins-$variant" "sqlite://$WORK/$variant/sesame.db" RS256 yes login
    ) || warn "the $variant sign-in run failed"
  done
  say "sign-ins: throughput and the memory left behind (ratios against no-pool, today's default)"
  python3 - "$OUT" <<'PY' | tee "$OUT/logins.md"
import json, sys, pathlib
out = pathlib.Path(sys.argv[1])
runs = {v: json.loads((out / f"logins-{v}-login.json").read_text())
        for v in ("pool", "no-pool", "no-pool-mmap") if (out / f"logins-{v}-login.json").exists()}
if "no-pool" not in runs:
    sys.exit("compare.sh: the no-pool run is missing: no ratios")
base = runs["no-pool"]
print("| server | sign-ins | sign-ins/s | × no-pool | p99 ms | errors | RSS idle / after MiB | RSS after × no-pool |")
print("|---|--:|--:|--:|--:|--:|--:|--:|")
for name, r in runs.items():
    p, bp = r["provider"], base["provider"]
    print(f"| {name} | {r['ops']} | {r['throughput']:.1f} | {r['throughput'] / base['throughput']:.2f}× "
          f"| {r['latency']['p99_ms']:.1f} | {r['errors']} | {p['idle_kb'] / 1024:.1f} / {p['end_kb'] / 1024:.1f} "
          f"| {p['end_kb'] / bp['end_kb']:.2f}× |")
    if r["ops"] < 1000:
        print(f"\n{name}: only {r['ops']} sign-ins; raise -t for the 1,000 the target names", file=sys.stderr)
PY
  echo "compare.sh took $(( $(date +%s) - STARTED )) s"
  exit 0
fi

say "sesame serve, SQLite, RS256, core $SERVER_CORE"
mkdir -p "$WORK/sqlite"
MODES=(flow)
[ "$RUN_ENDPOINTS" = 1 ] && MODES=(flow token-code token-cc userinfo introspect jwks)
sesame_run "sesame-sqlite" "sqlite://$WORK/sqlite/sesame.db" RS256 yes "${MODES[@]}" ||
  warn "the SQLite run failed"

if [ "$RUN_PG" = 1 ]; then
  say "sesame serve, PostgreSQL, RS256, core $SERVER_CORE (the database server is not pinned)"
  if PG_URL=$(pg_fresh); then
    SESAME_ENCRYPTION_KEY="$ENC_KEY" sesame_run "sesame-postgres" "$PG_URL" RS256 yes ||
      warn "the PostgreSQL run failed"
    say "sesame serve, PostgreSQL, RS256, both cores free (one instance; driver and database unpinned)"
    PG_URL=$(pg_fresh) && SESAME_ENCRYPTION_KEY="$ENC_KEY" sesame_run "sesame-postgres-2-cores" "$PG_URL" RS256 no ||
      warn "the PostgreSQL two-core run failed"
    say "sesame serve, PostgreSQL, RS256, two instances (one per core), codes redeemed at the other instance"
    PG_URL=$(pg_fresh) && INSTANCES=2 SESAME_ENCRYPTION_KEY="$ENC_KEY" \
      sesame_run "sesame-postgres-2-instances" "$PG_URL" RS256 spread ||
      warn "the PostgreSQL two-instance run failed"
  else
    warn "cannot create a database through $PG_ADMIN (see $LOGS/postgres.log): skipping PostgreSQL"
  fi
fi

say "sesame serve, SQLite, ES256, core $SERVER_CORE"
mkdir -p "$WORK/es256"
sesame_run "sesame-sqlite-es256" "sqlite://$WORK/es256/sesame.db" ES256 yes ||
  warn "the ES256 run failed"

if [ "$RUN_DPOP" = 1 ]; then
  say "sesame serve, SQLite, RS256, DPoP-bound tokens, core $SERVER_CORE"
  mkdir -p "$WORK/dpop"
  CLIENT_EXTRA=(--dpop) DRIVER_EXTRA=(--dpop)
  sesame_run "sesame-sqlite-dpop" "sqlite://$WORK/dpop/sesame.db" RS256 yes || warn "the DPoP run failed"
  CLIENT_EXTRA=() DRIVER_EXTRA=()
fi

say "sesame serve, SQLite, RS256, both cores free (driver unpinned too)"
mkdir -p "$WORK/two"
sesame_run "sesame-sqlite-2-cores" "sqlite://$WORK/two/sesame.db" RS256 no ||
  warn "the two-core run failed"

if [ "$RUN_NODE" = 1 ]; then
  say "node oidc-provider (npm, in-memory adapter), core $SERVER_CORE"
  if ! command -v node >/dev/null || ! command -v npm >/dev/null; then
    warn "node/npm not found: skipping oidc-provider"
  elif ! (cd "$BENCH_DIR" && { [ -d node_modules/oidc-provider ] && [ node_modules/.package-lock.json -nt package-lock.json ] ||
      npm ci --no-audit --no-fund --loglevel=error; }) >>"$LOGS/node-oidc-provider.log" 2>&1; then
    warn "npm ci failed: skipping oidc-provider; see $LOGS/node-oidc-provider.log"
  else
    node_variants=(plain)
    [ "$RUN_DPOP" = 1 ] && node_variants+=(dpop)
    for variant in "${node_variants[@]}"; do
      label=node-oidc-provider node_dpop=0 node_driver=()
      if [ "$variant" = dpop ]; then label=node-oidc-provider-dpop node_dpop=1 node_driver=(--dpop); fi
      port=$(free_port)
      issuer="http://127.0.0.1:$port"
      node_secret=s$(python3 -c 'import secrets; print(secrets.token_urlsafe(32))')
      BENCH_PORT=$port BENCH_ISSUER=$issuer BENCH_CLIENT_ID=bench BENCH_CLIENT_SECRET=$node_secret \
        BENCH_REDIRECT_URI=$REDIRECT_URI BENCH_DPOP=$node_dpop NODE_ENV=production \
        "${PIN_SERVER[@]}" node "$BENCH_DIR/node-op.mjs" >>"$LOGS/$label.log" 2>&1 &
      pid=$!
      PIDS+=("$pid")
      if wait_ready "$issuer/.well-known/openid-configuration" "$pid" "$label"; then
        sleep 1
        "${PIN_DRIVER[@]}" "$BENCH" run --mode flow --peer node-oidc-provider --issuer "$issuer" \
          --client-id bench --client-secret "$node_secret" "${DRIVER_ARGS[@]}" "${node_driver[@]}" \
          --pid "$pid" --label "$label" --json "$OUT/$label.json" &&
          RUNS+=("$OUT/$label.json") || warn "$label: the driver failed"
      fi
      stop "$pid"
    done
  fi
fi

if [ "$RUN_DJANGO" = 1 ]; then
  say "django-oidc-provider (PyPI, gunicorn, one sync worker), core $SERVER_CORE"
  VENV="$BENCH_DIR/.venv"
  stamp="$VENV/.requirements.txt"
  if ! { [ -x "$VENV/bin/gunicorn" ] && cmp -s "$BENCH_DIR/requirements.txt" "$stamp"; } &&
     ! { python3 -m venv "$VENV" && "$VENV/bin/pip" install -q -r "$BENCH_DIR/requirements.txt" &&
         cp "$BENCH_DIR/requirements.txt" "$stamp"; } >>"$LOGS/django-oidc-provider.log" 2>&1; then
    warn "creating $VENV failed: skipping django-oidc-provider; see $LOGS/django-oidc-provider.log"
  else
    port=$(free_port)
    dj_secret=s$(python3 -c 'import secrets; print(secrets.token_urlsafe(32))')
    mkdir -p "$WORK/django"
    export BENCH_DATA_DIR="$WORK/django" BENCH_SITE_URL="http://127.0.0.1:$port"
    if (cd "$BENCH_DIR/django_op" && "$VENV/bin/python" manage.py migrate -v0 &&
        "$VENV/bin/python" manage.py bench_setup --username bench --password "$PASSWORD" \
          --client-id bench --client-secret "$dj_secret" --redirect-uri "$REDIRECT_URI") \
        >>"$LOGS/django-oidc-provider.log" 2>&1; then
      (cd "$BENCH_DIR/django_op" && exec "${PIN_SERVER[@]}" "$VENV/bin/gunicorn" --workers 1 \
        --bind "127.0.0.1:$port" benchop.wsgi:application) >>"$LOGS/django-oidc-provider.log" 2>&1 &
      pid=$!
      PIDS+=("$pid")
      if wait_ready "$BENCH_SITE_URL/openid/.well-known/openid-configuration" "$pid" django-oidc-provider; then
        sleep 1
        worker=$(pgrep -P "$pid" | head -n1 || true)
        "${PIN_DRIVER[@]}" "$BENCH" run --mode flow --peer django-oidc-provider \
          --issuer "$BENCH_SITE_URL/openid" --client-id bench --client-secret "$dj_secret" \
          "${DRIVER_ARGS[@]}" --pid "$pid" ${worker:+--pid "$worker"} \
          --label "django-oidc-provider" --json "$OUT/django-oidc-provider.json" &&
          RUNS+=("$OUT/django-oidc-provider.json") || warn "django-oidc-provider: the driver failed"
      fi
      stop "$pid"
    else
      warn "setting up the Django project failed: skipping; see $LOGS/django-oidc-provider.log"
    fi
  fi
fi

say "comparison"
if [ ${#RUNS[@]} -eq 0 ]; then
  warn "no run succeeded"
  exit 1
fi
REPORT_ARGS=()
for r in "${RUNS[@]}"; do REPORT_ARGS+=(--run "$r"); done
for r in "${ENDPOINT_RUNS[@]:-}"; do [ -n "$r" ] && REPORT_ARGS+=(--endpoint-run "$r"); done
"$BENCH" report --sign "$OUT/sign-bound.json" "${REPORT_ARGS[@]}" \
  --markdown "$OUT/table.md" --svg "$BENCH_DIR/chart.svg"
echo "chart: bench/chart.svg   table: ${OUT#"$ROOT"/}/table.md   logs: ${LOGS#"$ROOT"/}/"

say "scale-up and backend ratios (issue 18's goals: two cores >= 1.8x one core; PostgreSQL >= 80% of SQLite)"
python3 - "$OUT" <<'PY' | tee "$OUT/scale.md"
import json, pathlib, sys
out = pathlib.Path(sys.argv[1])
def rate(name):
    p = out / f"{name}.json"
    return json.loads(p.read_text())["throughput"] if p.exists() else None
rows = [
    ("SQLite, both cores / one core", "sesame-sqlite-2-cores", "sesame-sqlite", 1.8),
    ("PostgreSQL, one instance on both cores / one core", "sesame-postgres-2-cores", "sesame-postgres", 1.8),
    ("PostgreSQL, two instances / one instance on one core", "sesame-postgres-2-instances", "sesame-postgres", 1.8),
    ("PostgreSQL / SQLite, one core", "sesame-postgres", "sesame-sqlite", 0.8),
]
print("| ratio | flows/s | over flows/s | ratio | goal | |")
print("|---|--:|--:|--:|--:|---|")
for what, a, b, goal in rows:
    ra, rb = rate(a), rate(b)
    if ra is None or rb is None or rb == 0:
        print(f"| {what} | – | – | – | {goal} | not run |")
        continue
    r = ra / rb
    print(f"| {what} | {ra:.0f} | {rb:.0f} | {r:.2f}× | ≥ {goal}× | {'met' if r >= goal else 'missed'} |")
PY
echo "load at the end: $(cut -d' ' -f1-3 /proc/loadavg) (1, 5, 15 min)" | tee -a "$OUT/machine.txt"
echo "compare.sh took $(( $(date +%s) - STARTED )) s" | tee -a "$OUT/machine.txt"
