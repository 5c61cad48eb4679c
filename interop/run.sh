#!/usr/bin/env bash
# Sesame against third-party OpenID Connect peers (see INTEROP.md).
#
#   bash interop/run.sh
#
# - panva's oidc-provider (npm) as the provider for the real `sesame app`
#   (login + RP-initiated logout, client_secret_basic and client_secret_post);
# - django-oidc-provider (PyPI) in a small Django site, interop/django_op/, as
#   the provider for `sesame app` (the same flows, RS256 ID tokens);
# - panva's openid-client (npm) and Authlib (PyPI) as relying parties of the
#   real `sesame serve` (discovery, code + PKCE, ID token, userinfo, refresh,
#   revocation, logout), each with client_secret_basic and client_secret_post;
# - pyoidc (`oic`, PyPI) as its relying party the way django-oidc uses it
#   (discovery, code flow without PKCE, ID token, userinfo, logout), with
#   clients from `clients add` and, at a second `sesame serve` with
#   registration = "open", with a client it registers itself;
# - mozilla-django-oidc (PyPI) in a small Django site, interop/django_rp/
#   (default settings, PKCE, basic auth, provider logout, SessionRefresh,
#   groups mapped to roles);
# - dbd-django-oidc-client (PyPI) in a small Django site, interop/django_rp2/
#   (its defaults: PKCE, basic auth, RP-initiated logout; its claims hook).
# - openid-client with DPoP (interop/dpop.sh): nonces required, dpop_jkt, PAR, refresh;
# - Authlib with a TOTP user: password + code, amr/acr in the verified ID token;
# - JARM and PAR (interop/jarm_par.sh): openid-client at `sesame serve`, `sesame app --par --jarm` at oidc-provider;
# - FAPI 2.0 (interop/fapi2.sh): oidc-provider with its FAPI 2.0 profile (PAR, DPoP, private_key_jwt,
#   PS256/ES256) as the provider of `sesame app --profile fapi2`, with a P-256 and an RSA key;
# - the device flow (interop/device.sh): openid-client's initiateDeviceAuthorization and
#   pollDeviceAuthorizationGrant at `sesame serve`, public and confidential clients, a denied consent;
# (The openidconnect crate runs under `cargo test`: crates/sesame-server/tests/it/interop_openidconnect.rs.)
#
# Needs node (>= 20) with npm, and python3 with venv. Installs the pinned
# packages (npm ci; a virtualenv at interop/.venv). Every server listens on
# 127.0.0.1 only. SESAME_BIN: the sesame binary to test (default: build it
# with cargo and use target/debug/sesame, or $CARGO_TARGET_DIR/debug/sesame).
#
# Prints "PASS peer@version: flow" / "FAIL …" lines and ends with
# "N passed, M failed"; exits non-zero when anything failed.
set -euo pipefail

ROOT="$(cd "$(dirname "$0")/.." && pwd)"
INTEROP="$ROOT/interop"
cd "$ROOT"
START_TIME=$SECONDS

log() { echo "== $*" >&2; }

WORK="$(mktemp -d "${TMPDIR:-/tmp}/sesame-interop.XXXXXX")"
PIDS=()
cleanup() {
  local pid i
  for pid in "${PIDS[@]}"; do
    kill "$pid" 2>/dev/null || true
  done
  # Give them 5 s to stop, then KILL what is left (only our own processes, by pid).
  for ((i = 0; i < 50; i++)); do
    local alive=0
    for pid in "${PIDS[@]}"; do
      if kill -0 "$pid" 2>/dev/null; then alive=1; fi
    done
    [ "$alive" -eq 0 ] && break
    sleep 0.1
  done
  for pid in "${PIDS[@]}"; do
    kill -9 "$pid" 2>/dev/null || true
    wait "$pid" 2>/dev/null || true
  done
  rm -rf "$WORK"
}
trap cleanup EXIT
trap 'exit 130' INT TERM

# ---------------------------------------------------------------- tools
command -v node >/dev/null || { echo "interop: node is required (Debian: apt-get install nodejs npm)" >&2; exit 2; }
command -v npm >/dev/null || { echo "interop: npm is required (Debian: apt-get install npm)" >&2; exit 2; }
command -v python3 >/dev/null || { echo "interop: python3 is required" >&2; exit 2; }
NODE_MAJOR="$(node -p 'process.versions.node.split(".")[0]')"
if [ "$NODE_MAJOR" -lt 20 ]; then
  echo "interop: node >= 20 is required (found $(node --version))" >&2
  exit 2
fi

log "npm ci (interop/package-lock.json)"
(cd "$INTEROP" && npm ci --no-audit --no-fund --loglevel=error >"$WORK/npm.log" 2>&1) || { cat "$WORK/npm.log" >&2; exit 2; }

log "python venv (interop/.venv, interop/requirements.txt)"
if [ ! -x "$INTEROP/.venv/bin/python" ]; then
  python3 -m venv "$INTEROP/.venv"
fi
"$INTEROP/.venv/bin/python" -m pip install --quiet --disable-pip-version-check -r "$INTEROP/requirements.txt" \
  >"$WORK/pip.log" 2>&1 || { cat "$WORK/pip.log" >&2; exit 2; }
PY="$INTEROP/.venv/bin/python"

if [ -z "${SESAME_BIN:-}" ]; then
  log "cargo build (sesame)"
  export SQLX_OFFLINE="${SQLX_OFFLINE:-true}"
  # The same package selection and features as the CI's `cargo test`, so its build is reused.
  cargo build --quiet --workspace --all-features --bin sesame
  SESAME_BIN="${CARGO_TARGET_DIR:-$ROOT/target}/debug/sesame"
fi
[ -x "$SESAME_BIN" ] || { echo "interop: no sesame binary at $SESAME_BIN" >&2; exit 2; }
SESAME_BIN="$(cd "$(dirname "$SESAME_BIN")" && pwd)/$(basename "$SESAME_BIN")"

# ---------------------------------------------------------------- helpers
# N distinct free ports on 127.0.0.1 (all held open until all are chosen).
free_ports() {
  python3 - "$1" <<'EOF'
import socket, sys
socks = []
for _ in range(int(sys.argv[1])):
    s = socket.socket()
    s.bind(("127.0.0.1", 0))
    socks.append(s)
print(" ".join(str(s.getsockname()[1]) for s in socks))
EOF
}

# wait_for FILE PATTERN SECONDS PID: waits until FILE has a line matching PATTERN.
wait_for() {
  local file="$1" pattern="$2" limit="$3" pid="$4" i
  for ((i = 0; i < limit * 10; i++)); do
    if grep -q -- "$pattern" "$file" 2>/dev/null; then return 0; fi
    if ! kill -0 "$pid" 2>/dev/null; then
      echo "interop: process $pid exited before printing '$pattern':" >&2
      cat "$file" >&2
      return 1
    fi
    sleep 0.1
  done
  echo "interop: timed out waiting for '$pattern' in $file" >&2
  cat "$file" >&2
  return 1
}

RESULTS="$WORK/results.txt"
: >"$RESULTS"

# run_peer NAME CMD…: runs a peer script; its PASS/FAIL lines go to the results.
# A script that fails without printing a FAIL line counts as one failure.
run_peer() {
  local name="$1" out="$WORK/peer-$RANDOM.out" err rc=0
  shift
  err="${out%.out}.err"
  "$@" >"$out" 2>"$err" || rc=$?
  grep -E '^(PASS|FAIL) ' "$out" | tee -a "$RESULTS" || true
  if [ "$rc" -ne 0 ]; then
    if ! grep -q '^FAIL ' "$out"; then
      echo "FAIL $name: exited with status $rc" | tee -a "$RESULTS"
    fi
    echo "---- $name: output ----" >&2
    grep -vE '^(PASS|FAIL) ' "$out" >&2 || true
    echo "---- $name: errors ----" >&2
    tail -n 80 "$err" >&2
  fi
}

# ---------------------------------------------------------------- oidc-provider -> sesame app
run_oidc_provider_peer() {
  local op_port basic_port post_port ops basic_secret post_secret
  read -r op_port basic_port post_port <<<"$(free_ports 3)"
  ops="http://127.0.0.1:$op_port"
  log "oidc-provider on $ops"
  node "$INTEROP/op.mjs" --port "$op_port" \
    --basic-app "http://127.0.0.1:$basic_port" --post-app "http://127.0.0.1:$post_port" \
    >"$WORK/op.log" 2>&1 &
  PIDS+=($!)
  wait_for "$WORK/op.log" "ready on $ops" 60 "$!" || { echo "FAIL oidc-provider: did not start" | tee -a "$RESULTS"; return 0; }
  basic_secret="$(grep -o 'basic_secret=[^ ]*' "$WORK/op.log" | cut -d= -f2)"
  post_secret="$(grep -o 'post_secret=[^ ]*' "$WORK/op.log" | cut -d= -f2)"

  local method port secret client pid
  for method in client_secret_basic client_secret_post; do
    if [ "$method" = client_secret_basic ]; then
      port=$basic_port secret=$basic_secret client=sesame-basic
    else
      port=$post_port secret=$post_secret client=sesame-post
    fi
    log "sesame app ($method) on 127.0.0.1:$port"
    SESAME_APP_CLIENT_SECRET="$secret" "$SESAME_BIN" app --issuer "$ops" --client-id "$client" \
      --auth-method "$method" --listen "127.0.0.1:$port" >"$WORK/app-$method.log" 2>&1 &
    pid=$!
    PIDS+=("$pid")
    if ! wait_for "$WORK/app-$method.log" "Demo app on" 30 "$pid"; then
      echo "FAIL oidc-provider: sesame app did not start ($method)" | tee -a "$RESULTS"
      continue
    fi
    run_peer "oidc-provider ($method)" node "$INTEROP/drive-app.mjs" \
      --op "$ops" --app "http://127.0.0.1:$port" --user "alice-$method" --auth-method "$method"
  done
}

# ---------------------------------------------------------------- django-oidc-provider -> sesame app
# interop/django_op/ (served by op_django.py), one Client per `sesame app`, created
# with the package's admin form; its credentials come in a file, not in the log.
run_django_oidc_provider_peer() {
  local op_port basic_port post_port issuer password creds token_log op_pid
  read -r op_port basic_port post_port <<<"$(free_ports 3)"
  issuer="http://127.0.0.1:$op_port/openid"
  password="interop-$(python3 -c 'import secrets; print(secrets.token_urlsafe(18))')"
  creds="$WORK/django-op-clients.json"
  token_log="$WORK/django-op-token-auth.log"
  log "django-oidc-provider on $issuer"
  DJANGO_OP_USER_PASSWORD="$password" "$PY" "$INTEROP/op_django.py" --port "$op_port" --username alice \
    --app "client_secret_basic=http://127.0.0.1:$basic_port" --app "client_secret_post=http://127.0.0.1:$post_port" \
    --credentials "$creds" --token-log "$token_log" >"$WORK/django-op.log" 2>&1 &
  op_pid=$!
  PIDS+=("$op_pid")
  wait_for "$WORK/django-op.log" "ready on $issuer" 60 "$op_pid" \
    || { echo "FAIL django-oidc-provider: did not start" | tee -a "$RESULTS"; return 0; }

  local method port client pid
  for method in client_secret_basic client_secret_post; do
    [ "$method" = client_secret_basic ] && port=$basic_port || port=$post_port
    client="$(python3 -c 'import json,sys; print(json.load(open(sys.argv[1]))[sys.argv[2]]["client_id"])' "$creds" "$method")"
    log "sesame app ($method) on 127.0.0.1:$port"
    SESAME_APP_CLIENT_SECRET="$(python3 -c 'import json,sys; print(json.load(open(sys.argv[1]))[sys.argv[2]]["client_secret"])' "$creds" "$method")" \
      "$SESAME_BIN" app --issuer "$issuer" --client-id "$client" \
      --auth-method "$method" --listen "127.0.0.1:$port" >"$WORK/django-app-$method.log" 2>&1 &
    pid=$!
    PIDS+=("$pid")
    if ! wait_for "$WORK/django-app-$method.log" "Demo app on" 30 "$pid"; then
      echo "FAIL django-oidc-provider: sesame app did not start ($method)" | tee -a "$RESULTS"
      continue
    fi
    run_peer "django-oidc-provider ($method)" "$PY" "$INTEROP/drive_app_django.py" \
      --op "$issuer" --app "http://127.0.0.1:$port" --username alice --password "$password" \
      --auth-method "$method" --client-id "$client" --token-log "$token_log"
    kill "$pid" 2>/dev/null || true
  done
  kill "$op_pid" 2>/dev/null || true
}

# start_serve DB PORT LOG: `sesame serve` as http://127.0.0.1:PORT (the caller's SESAME_*
# variables reach it), waits for /healthz; on failure prints a FAIL line and returns 1.
start_serve() {
  local db="$1" port="$2" logfile="$3" issuer="http://127.0.0.1:$2" pid i
  log "sesame serve on $issuer${SESAME_REGISTRATION:+ (registration = $SESAME_REGISTRATION)}"
  SESAME_LOG_LEVEL="${SESAME_LOG_LEVEL:-warn}" "$SESAME_BIN" --database "$db" serve --issuer "$issuer" \
    --listen "127.0.0.1:$port" >"$logfile" 2>&1 &
  pid=$!
  PIDS+=("$pid")
  for ((i = 0; i < 300; i++)); do
    if python3 -c "import urllib.request,sys; sys.exit(0 if urllib.request.urlopen('$issuer/healthz', timeout=1).status == 200 else 1)" 2>/dev/null; then
      return 0
    fi
    kill -0 "$pid" 2>/dev/null || break
    sleep 0.1
  done
  cat "$logfile" >&2
  echo "FAIL sesame serve: did not start" | tee -a "$RESULTS"
  return 1
}

# serve_log_errors LOG: shows the panics and errors a `sesame serve` logged.
serve_log_errors() {
  if grep -qiE 'panic|ERROR' "$1"; then
    echo "---- sesame serve log (errors): $1 ----" >&2
    grep -iE 'panic|ERROR' "$1" | tail -n 40 >&2
  fi
}

# ---------------------------------------------------------------- sesame serve <- openid-client, Authlib, pyoidc, mozilla-django-oidc, dbd-django-oidc-client
run_sesame_serve_peers() {
  local port cb_port django_port dbd_port issuer db password
  read -r port cb_port django_port dbd_port <<<"$(free_ports 4)"
  issuer="http://127.0.0.1:$port"
  db="sqlite://$WORK/sesame.db"
  password="interop-$(python3 -c 'import secrets; print(secrets.token_urlsafe(18))')"
  # A user per group of peers, to keep the groups apart (Sesame's rate limits count only
  # failed sign-ins, so the Django site's 7 sign-ins in a row are not limited).
  local user
  for user in interop pyoidc django django-member dbd; do
    SESAME_LOG_LEVEL=warn "$SESAME_BIN" --database "$db" users add --username "$user" --password "$password" \
      --email "$user@example.com" --name "Interop User ($user)" --group interop \
      $([ "$user" = django ] && echo --group staff) >/dev/null
  done

  # One client per peer and authentication method, all third-party (consent page shown).
  # add_client NAME METHOD [REDIRECT_URI POST_LOGOUT_REDIRECT_URI [FLAGS…]]: prints its JSON.
  add_client() {
    SESAME_LOG_LEVEL=warn "$SESAME_BIN" --database "$db" clients add --name "$1" \
      --redirect-uri "${3:-http://127.0.0.1:$cb_port/cb}" \
      --post-logout-redirect-uri "${4:-http://127.0.0.1:$cb_port/bye}" \
      --grant-type authorization_code --grant-type refresh_token \
      --auth-method "$2" --json "${@:5}"
  }
  field() { python3 -c 'import json,sys; print(json.load(sys.stdin)[sys.argv[1]])' "$1"; }
  start_serve "$db" "$port" "$WORK/serve.log" || return 0

  local method json id secret
  for method in client_secret_basic client_secret_post; do
    json="$(add_client "openid-client ($method)" "$method")"
    id="$(field client_id <<<"$json")"
    secret="$(field client_secret <<<"$json")"
    run_peer "openid-client ($method)" node "$INTEROP/rp-openid-client.mjs" \
      --issuer "$issuer" --client-id="$id" --client-secret="$secret" --auth-method "$method" \
      --redirect-uri "http://127.0.0.1:$cb_port/cb" --post-logout-redirect-uri "http://127.0.0.1:$cb_port/bye" \
      --username interop --password "$password"
  done
  for method in client_secret_basic client_secret_post; do
    json="$(add_client "Authlib ($method)" "$method")"
    id="$(field client_id <<<"$json")"
    secret="$(field client_secret <<<"$json")"
    run_peer "authlib ($method)" "$PY" "$INTEROP/rp_authlib.py" \
      --issuer "$issuer" --client-id="$id" --client-secret="$secret" --auth-method "$method" \
      --redirect-uri "http://127.0.0.1:$cb_port/cb" --post-logout-redirect-uri "http://127.0.0.1:$cb_port/bye" \
      --username interop --password "$password"
  done
  # A user with TOTP (`sesame users totp`): Authlib verifies the ID token of a password + code sign-in,
  # whose amr and acr say so (RFC 8176).
  SESAME_LOG_LEVEL=warn "$SESAME_BIN" --database "$db" users add --username interop-mfa --password "$password" \
    --email interop-mfa@example.com --name "Interop User (mfa)" >/dev/null
  local totp_secret
  totp_secret="$(SESAME_LOG_LEVEL=warn "$SESAME_BIN" --database "$db" users totp --username interop-mfa --json | field secret)"
  json="$(add_client "Authlib (TOTP)" client_secret_basic)"
  run_peer "authlib (TOTP)" "$PY" "$INTEROP/rp_authlib.py" \
    --issuer "$issuer" --client-id="$(field client_id <<<"$json")" --client-secret="$(field client_secret <<<"$json")" \
    --auth-method client_secret_basic \
    --redirect-uri "http://127.0.0.1:$cb_port/cb" --post-logout-redirect-uri "http://127.0.0.1:$cb_port/bye" \
    --username interop-mfa --password "$password" --totp-secret "$totp_secret"
  for method in client_secret_basic client_secret_post; do
    json="$(add_client "pyoidc ($method)" "$method")"
    run_peer "pyoidc ($method)" "$PY" "$INTEROP/rp_pyoidc.py" \
      --issuer "$issuer" --client-id="$(field client_id <<<"$json")" --client-secret="$(field client_secret <<<"$json")" \
      --auth-method "$method" \
      --redirect-uri "http://127.0.0.1:$cb_port/cb" --post-logout-redirect-uri "http://127.0.0.1:$cb_port/bye" \
      --username pyoidc --password "$password"
  done
  # mozilla-django-oidc in interop/django_rp/: a client_secret_post client (its default) and a basic one.
  # A third one with HS256 ID tokens keyed with its secret: the library's literal default algorithm.
  local django="http://127.0.0.1:$django_port" post_json basic_json hs_json
  post_json="$(add_client "mozilla-django-oidc (client_secret_post)" client_secret_post "$django/oidc/callback/" "$django/bye/")"
  basic_json="$(add_client "mozilla-django-oidc (client_secret_basic)" client_secret_basic "$django/oidc/callback/" "$django/bye/")"
  hs_json="$(add_client "mozilla-django-oidc (HS256)" client_secret_post "$django/oidc/callback/" "$django/bye/" --id-token-alg HS256)"
  run_peer "mozilla-django-oidc" "$PY" "$INTEROP/rp_django.py" --issuer "$issuer" --port "$django_port" \
    --post-client-id="$(field client_id <<<"$post_json")" --post-client-secret="$(field client_secret <<<"$post_json")" \
    --basic-client-id="$(field client_id <<<"$basic_json")" --basic-client-secret="$(field client_secret <<<"$basic_json")" \
    --hs-client-id="$(field client_id <<<"$hs_json")" --hs-client-secret="$(field client_secret <<<"$hs_json")" \
    --username django --password "$password" --email django@example.com \
    --member-username django-member --member-email django-member@example.com
  # dbd-django-oidc-client in interop/django_rp2/: client_secret_basic (Authlib's default),
  # its default logout returns to the site's "/".
  local dbd="http://127.0.0.1:$dbd_port" dbd_json
  dbd_json="$(add_client "dbd-django-oidc-client (client_secret_basic)" client_secret_basic "$dbd/auth/callback/" "$dbd/")"
  run_peer "dbd-django-oidc-client" "$PY" "$INTEROP/rp_dbd_django.py" --issuer "$issuer" --port "$dbd_port" \
    --client-id="$(field client_id <<<"$dbd_json")" --client-secret="$(field client_secret <<<"$dbd_json")" \
    --username dbd --password "$password" --email dbd@example.com --name "Interop User (dbd)"
  serve_log_errors "$WORK/serve.log"
}

# ---------------------------------------------------------------- sesame serve (registration = open) <- pyoidc
# pyoidc registers its own client (RFC 7591, Client.register) as django-oidc does,
# at a second `sesame serve` whose registration endpoint is open.
run_registration_peers() {
  local port cb_port db password
  read -r port cb_port <<<"$(free_ports 2)"
  db="sqlite://$WORK/sesame-registration.db"
  password="interop-$(python3 -c 'import secrets; print(secrets.token_urlsafe(18))')"
  SESAME_LOG_LEVEL=warn "$SESAME_BIN" --database "$db" users add --username pyoidc --password "$password" \
    --email pyoidc@example.com --name "Interop User (pyoidc)" >/dev/null
  SESAME_REGISTRATION=open start_serve "$db" "$port" "$WORK/serve-registration.log" || return 0
  run_peer "pyoidc (registration)" "$PY" "$INTEROP/rp_pyoidc.py" --issuer "http://127.0.0.1:$port" --register \
    --auth-method client_secret_basic \
    --redirect-uri "http://127.0.0.1:$cb_port/cb" --post-logout-redirect-uri "http://127.0.0.1:$cb_port/bye" \
    --username pyoidc --password "$password"
  serve_log_errors "$WORK/serve-registration.log"
}

run_oidc_provider_peer
source "$INTEROP/dpop.sh" && run_oidc_provider_dpop_peer
source "$INTEROP/jarm_par.sh" && run_oidc_provider_par_jarm_peer
source "$INTEROP/fapi2.sh" && run_oidc_provider_fapi2_peer
run_django_oidc_provider_peer
run_sesame_serve_peers
run_registration_peers
source "$INTEROP/dpop.sh" && run_dpop_peers
source "$INTEROP/jarm_par.sh" && run_jarm_par_peers
source "$INTEROP/device.sh" && run_device_peers

PASSED="$(grep -c '^PASS ' "$RESULTS" || true)"
FAILED="$(grep -c '^FAIL ' "$RESULTS" || true)"
echo "interop: $((SECONDS - START_TIME))s"
echo "$PASSED passed, $FAILED failed"
[ "$FAILED" -eq 0 ] && [ "$PASSED" -gt 0 ]
