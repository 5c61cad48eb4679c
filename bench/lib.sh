# bench/lib.sh — what compare.sh and counts.sh share: sourced, not run.
#
# Sets REDIRECT_URI and PASSWORD (the bench user's, random per run); defines free_port,
# json_field, write_bench_config FILE, wait_answer URL [PID] and build_release (sets SESAME and
# BENCH under $CARGO_TARGET_DIR, default target/).

REDIRECT_URI="http://127.0.0.1:9/callback"
# A letter first: token_urlsafe may start with '-', which argument parsers take for a flag.
PASSWORD=p$(python3 -c 'import secrets; print(secrets.token_urlsafe(18))')

free_port() {
  python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])'
}

json_field() { python3 -c 'import json,sys; print(json.load(sys.stdin)[sys.argv[1]])' "$1"; }

# write_bench_config FILE: the rate limits protect real deployments; a load test from one
# address, as one user, would only measure them (login_queue: bursts of 1,024 sign-ins would
# otherwise get 503 past 64 waiting).
write_bench_config() {
  cat >"$1" <<'TOML'
[rate_limits]
login_per_username_per_minute = 100000
login_per_ip_per_minute = 100000
token_per_client_per_second = 1000000
login_queue = 100000
TOML
}

# wait_answer URL [PID] [TENTHS]: until URL answers 200 (status 0), PID exits (status 2), or
# TENTHS tenths of a second pass (default 600; status 1).
wait_answer() {
  local url="$1" pid="${2:-}" tenths="${3:-600}" i
  for i in $(seq 1 "$tenths"); do
    if [ -n "$pid" ] && ! kill -0 "$pid" 2>/dev/null; then return 2; fi
    curl -sf -o /dev/null "$url" && return 0
    sleep 0.1
  done
  return 1
}

# build_release ROOT: sesame and the load driver in release; sets SESAME and BENCH.
build_release() {
  local target="${CARGO_TARGET_DIR:-$1/target}"
  (cd "$1" && cargo build --release -q -p sesame-server -p sesame-bench)
  SESAME="$target/release/sesame"
  BENCH="$target/release/sesame-bench"
}
