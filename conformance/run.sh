#!/usr/bin/env bash
# Sesame's own run of the OpenID Foundation's OP certification plans (see CONFORMANCE.md).
#
#   bash conformance/run.sh            # writes CONFORMANCE.md
#   bash conformance/run.sh --check    # prints the tables; exits non-zero on any FAIL of Sesame's
#
# Starts `sesame serve` on a free 127.0.0.1 port (SQLite in a temp dir), adds a
# user and the clients with `sesame clients add` (and, for the dynamic_client
# modules, through the registration endpoint, registration = "open"), then runs
# conformance/run.py: every module of each plan, by the suite's names, driven
# with a cookie-keeping requests.Session. Builds nothing: SESAME_BIN is the
# binary to test (default target/debug/sesame). Uses interop/.venv (the pinned
# interop/requirements.txt), creating it if needed.
set -euo pipefail

ROOT="$(cd "$(dirname "$0")/.." && pwd)"
CONF="$ROOT/conformance"
INTEROP="$ROOT/interop"
cd "$ROOT"
START_TIME=$SECONDS
MODE=write
[ "${1:-}" = "--check" ] && MODE=check

log() { echo "== $*" >&2; }

SESAME_BIN="${SESAME_BIN:-${CARGO_TARGET_DIR:-$ROOT/target}/debug/sesame}"
[ -x "$SESAME_BIN" ] || { echo "conformance: no sesame binary at $SESAME_BIN (build it, or set SESAME_BIN)" >&2; exit 2; }
SESAME_BIN="$(cd "$(dirname "$SESAME_BIN")" && pwd)/$(basename "$SESAME_BIN")"
command -v python3 >/dev/null || { echo "conformance: python3 is required" >&2; exit 2; }

WORK="$(mktemp -d "${TMPDIR:-/tmp}/sesame-conformance.XXXXXX")"
PIDS=()
cleanup() {
  local pid i alive
  for pid in "${PIDS[@]}"; do kill "$pid" 2>/dev/null || true; done
  for ((i = 0; i < 50; i++)); do
    alive=0
    for pid in "${PIDS[@]}"; do kill -0 "$pid" 2>/dev/null && alive=1; done
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

log "python venv (interop/.venv, interop/requirements.txt)"
if [ ! -x "$INTEROP/.venv/bin/python" ]; then
  python3 -m venv "$INTEROP/.venv"
fi
"$INTEROP/.venv/bin/python" -m pip install --quiet --disable-pip-version-check -r "$INTEROP/requirements.txt" \
  >"$WORK/pip.log" 2>&1 || { cat "$WORK/pip.log" >&2; exit 2; }
PY="$INTEROP/.venv/bin/python"

PORT="$(python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])')"
ISSUER="http://127.0.0.1:$PORT"
DB="sqlite://$WORK/sesame.db"
PASSWORD="conformance-$(python3 -c 'import secrets; print(secrets.token_urlsafe(18))')"
USERNAME=conformance

# The test user has a claim for every scope the plans ask for (address and phone as custom claims).
SESAME_LOG_LEVEL=warn "$SESAME_BIN" --database "$DB" users add --username "$USERNAME" --password "$PASSWORD" \
  --email conformance@example.com --name "Conformance User" \
  --claim given_name=Conformance --claim family_name=User --claim locale=en \
  --claim 'address={"formatted":"1 Main Street, 111 22 Stockholm, Sweden","street_address":"1 Main Street","locality":"Stockholm","postal_code":"111 22","country":"SE"}' \
  --claim phone_number=+46700000000 --claim phone_number_verified=false >/dev/null

# Configuration (environment, the supported way): the registration endpoint open for the
# dynamic_client modules; request_uri fetches to the runner on 127.0.0.1; the login rate
# limits raised (one user signs in several hundred times a minute here).
log "sesame serve on $ISSUER"
# The two settings the certification plans need beyond the defaults (CONFORMANCE.md says why).
SESAME_REGISTRATION=open SESAME_ALLOW_PRIVATE_OUTBOUND=true \
  SESAME_REQUIRE_PKCE_OR_NONCE=false SESAME_LEGACY_ASSERTION_AUDIENCE=true \
  SESAME_RATE_LIMITS__LOGIN_PER_USERNAME_PER_MINUTE=100000 SESAME_RATE_LIMITS__LOGIN_PER_IP_PER_MINUTE=100000 \
  SESAME_RATE_LIMITS__REGISTER_PER_IP_PER_MINUTE=10000 SESAME_LOG_LEVEL="${SESAME_LOG_LEVEL:-warn}" \
  "$SESAME_BIN" --database "$DB" serve --issuer "$ISSUER" --listen "127.0.0.1:$PORT" >"$WORK/serve.log" 2>&1 &
PIDS+=($!)
for ((i = 0; i < 300; i++)); do
  if python3 -c "import urllib.request,sys; sys.exit(0 if urllib.request.urlopen('$ISSUER/healthz', timeout=1).status == 200 else 1)" 2>/dev/null; then
    break
  fi
  kill -0 "${PIDS[0]}" 2>/dev/null || { cat "$WORK/serve.log" >&2; echo "conformance: sesame serve did not start" >&2; exit 2; }
  sleep 0.1
done

# The FAPI 2.0 plan's OP: a second `sesame serve` with every client held to the FAPI 2.0 Security
# Profile (profile = "fapi2": the suite tests an authorization server set up for FAPI 2.0 as a
# whole) and Sesame's defaults otherwise (not the two OIDC certification settings above). Its own
# SQLite database, the same test user; the runner adds the plan's two clients.
FAPI2_PORT="$(python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])')"
FAPI2_ISSUER="http://127.0.0.1:$FAPI2_PORT"
FAPI2_DB="sqlite://$WORK/fapi2.db"
SESAME_LOG_LEVEL=warn "$SESAME_BIN" --database "$FAPI2_DB" users add --username "$USERNAME" --password "$PASSWORD" \
  --email conformance@example.com --name "Conformance User" --claim given_name=Conformance --claim family_name=User \
  --claim locale=en --claim phone_number=+46700000000 >/dev/null
log "sesame serve (profile fapi2) on $FAPI2_ISSUER"
SESAME_PROFILE=fapi2 SESAME_RATE_LIMITS__LOGIN_PER_USERNAME_PER_MINUTE=100000 \
  SESAME_RATE_LIMITS__LOGIN_PER_IP_PER_MINUTE=100000 SESAME_RATE_LIMITS__TOKEN_FAILURES_PER_IP_PER_MINUTE=100000 \
  SESAME_LOG_LEVEL="${SESAME_LOG_LEVEL:-warn}" \
  "$SESAME_BIN" --database "$FAPI2_DB" serve --issuer "$FAPI2_ISSUER" --listen "127.0.0.1:$FAPI2_PORT" >"$WORK/fapi2-serve.log" 2>&1 &
PIDS+=($!)
for ((i = 0; i < 300; i++)); do
  if python3 -c "import urllib.request,sys; sys.exit(0 if urllib.request.urlopen('$FAPI2_ISSUER/healthz', timeout=1).status == 200 else 1)" 2>/dev/null; then
    break
  fi
  kill -0 "${PIDS[-1]}" 2>/dev/null || { cat "$WORK/fapi2-serve.log" >&2; echo "conformance: sesame serve (fapi2) did not start" >&2; exit 2; }
  sleep 0.1
done

# run_modules NAME ARGS…: runs every module against one OP; results in $WORK/NAME.json.
# Exit status 1 on any FAIL (and the failing lines on stderr).
run_modules() {
  local name="$1" rc=0
  shift
  log "modules against $name"
  PYTHONPATH="$INTEROP" "$PY" "$CONF/run.py" --json "$WORK/$name.json" "$@" ${CONFORMANCE_ARGS:-} \
    >"$WORK/$name.txt" 2>"$WORK/$name.err" || rc=$?
  grep -E '^FAIL ' "$WORK/$name.txt" | sed "s/^/$name: /" >&2 || true
  echo "$name: $(tail -n 1 "$WORK/$name.txt")" >&2
  if [ "$rc" -ne 0 ] && [ -s "$WORK/$name.err" ]; then
    echo "---- $name: runner errors ----" >&2
    tail -n 40 "$WORK/$name.err" >&2
  fi
  [ -s "$WORK/$name.json" ] || { echo "conformance: no results from $name" >&2; return 2; }
  return "$rc"
}

# ---------------------------------------------------------------- the reference: panva's oidc-provider
# The same modules against a well-known OP check the runner: a module the reference fails is a
# runner bug until shown otherwise (CONFORMANCE_REFERENCE=0 leaves it out). Both OPs run side by
# side (most of the time is the modules' own waits: 30 s code reuse, 60 s key rotations).
REF_ARGS=()
REF_RUN=0
if [ "${CONFORMANCE_REFERENCE:-1}" != 0 ]; then
  command -v node >/dev/null && command -v npm >/dev/null || { echo "conformance: node and npm are required for the reference OP (CONFORMANCE_REFERENCE=0 skips it)" >&2; exit 2; }
  log "npm ci (interop/package-lock.json: oidc-provider)"
  (cd "$INTEROP" && npm ci --no-audit --no-fund --loglevel=error >"$WORK/npm.log" 2>&1) || { cat "$WORK/npm.log" >&2; exit 2; }
  read -r REF_PORT HOST_PORT <<<"$(python3 -c 'import socket
socks = [socket.socket() for _ in range(2)]
for s in socks: s.bind(("127.0.0.1", 0))
print(" ".join(str(s.getsockname()[1]) for s in socks))')"
  # HOST_PORT: the runner's own server (request objects, back-channel logout), named in the clients.
  node "$CONF/reference-op.mjs" --port "$REF_PORT" --rp https://rp.conformance.test --clients-out "$WORK/ref-clients.json" \
    --backchannel-base "http://127.0.0.1:$HOST_PORT" >"$WORK/ref.log" 2>&1 &
  PIDS+=($!)
  for ((i = 0; i < 300; i++)); do
    grep -q "ready on" "$WORK/ref.log" 2>/dev/null && break
    kill -0 "${PIDS[-1]}" 2>/dev/null || { cat "$WORK/ref.log" >&2; echo "conformance: the reference OP did not start" >&2; exit 2; }
    sleep 0.1
  done
  REF_NAME="$(grep -o 'oidc-provider@[^ ]*' "$WORK/ref.log" | head -1)"
  REF_RUN=1
  REF_ARGS=("$WORK/reference.json" "$REF_NAME")
fi

rc=0
run_modules sesame --issuer "$ISSUER" --sesame-bin "$SESAME_BIN" --database "$DB" \
  --fapi2-issuer "$FAPI2_ISSUER" --fapi2-database "$FAPI2_DB" \
  --username "$USERNAME" --password "$PASSWORD" >"$WORK/sesame.summary" 2>&1 &
SESAME_RUNNER=$!
if [ "$REF_RUN" = 1 ]; then
  run_modules reference --issuer "http://127.0.0.1:$REF_PORT" --clients-json "$WORK/ref-clients.json" --host-port "$HOST_PORT" \
    --username conformance --password any-password >"$WORK/reference.summary" 2>&1 &
  REF_RUNNER=$!
  # The reference's own FAILs check the runner (each is explained in CONFORMANCE.md); only
  # Sesame's make the run fail.
  wait "$REF_RUNNER" || echo "conformance: the reference OP has FAILs (see its column; they do not fail this run)" >&2
fi
wait "$SESAME_RUNNER" || rc=$?
cat "$WORK/sesame.summary" >&2
[ "$REF_RUN" = 1 ] && cat "$WORK/reference.summary" >&2
[ -s "$WORK/sesame.json" ] || exit 2
for f in serve.log fapi2-serve.log; do
  if grep -qiE 'panic' "$WORK/$f"; then
    echo "---- sesame $f (panics) ----" >&2
    grep -iE 'panic' "$WORK/$f" | tail -n 20 >&2
    rc=1
  fi
done
"$PY" "$CONF/report.py" "$WORK/sesame.json" "${REF_ARGS[@]}" >"$WORK/tables.md"

ELAPSED=$((SECONDS - START_TIME))
if [ "$MODE" = check ]; then
  cat "$WORK/tables.md"
  echo "conformance: ${ELAPSED}s"
  exit "$rc"
fi

COMMIT="$(git -C "$ROOT" rev-parse --short HEAD 2>/dev/null || echo unknown)"
CRATES_COMMIT="$(git -C "$ROOT" log -1 --format=%h -- crates Cargo.lock 2>/dev/null || echo unknown)"
DIRTY="$(git -C "$ROOT" status --porcelain --untracked-files=no -- crates 2>/dev/null | head -1)"
VERSION="$("$SESAME_BIN" --version 2>/dev/null || echo sesame)"
# The relying party's section (conformance/rp/run.sh writes it) is kept as it is.
RP_SECTION="$(sed -n '/^<!-- rp-conformance:begin/,/^<!-- rp-conformance:end -->/p' "$ROOT/CONFORMANCE.md" 2>/dev/null || true)"
{
  cat <<EOF
# OpenID Connect OP conformance

Sesame's own run of the OpenID Foundation's OP certification plans, module by module with the
conformance suite's names; generated by \`bash conformance/run.sh\` (do not edit by hand).

- **Sesame**: \`$VERSION\`, the source at commit \`$CRATES_COMMIT\` (the last one touching crates/; the tree is at
  \`$COMMIT\`)${DIRTY:+, with uncommitted changes in crates/}; binary \`${SESAME_BIN#"$ROOT/"}\` (SESAME_BIN)
- **Date**: $(date -u +"%Y-%m-%d %H:%M UTC"); run time ${ELAPSED}s
- **Reproduce**: \`bash conformance/run.sh\` (SESAME_BIN=… to test another binary; \`--check\` prints the tables
  and exits non-zero on any FAIL of Sesame's, as CI runs it).
- **How**: \`sesame serve\` on 127.0.0.1 with SQLite in a temporary directory; one user (with a claim for every
  standard scope); static clients added with \`sesame clients add\` (one per response type with
  client_secret_basic, one with client_secret_post, a second client for the refresh token binding test),
  and for the suite's dynamic_client variant (\`oidcc-idtoken-signature\`, the Dynamic plan with private_key_jwt)
  clients registered at the registration endpoint (\`SESAME_REGISTRATION=open\`); \`oidcc-server-rotate-keys\` rotates
  with \`sesame keys rotate\` (\`SESAME_KEY_PUBLISH_DELAY=0\` for that command: the next key was published at start). The login and consent pages are driven with a
  cookie-keeping requests.Session: one session per plan and response type, kept across its modules as the
  tester's browser is in the suite (modules that need no session, such as \`oidcc-prompt-none-not-logged-in\`,
  start a fresh one). Request objects by reference are served, and back-channel logout tokens received,
  by the runner on 127.0.0.1 (\`SESAME_ALLOW_PRIVATE_OUTBOUND=true\`). Two settings differ from
  Sesame's defaults, as the plans need: \`require_pkce_or_nonce = false\` (the Basic client sends a
  code request with neither PKCE nor a nonce, \`oidcc-ensure-request-without-nonce-succeeds-for-code-flow\`;
  by default Sesame refuses that, RFC 9700's code-injection advice) and \`legacy_assertion_audience = true\`
  (the Dynamic plan's \`private_key_jwt\` assertions name the token endpoint, OIDC Core §9; by default Sesame
  accepts only the issuer, draft-ietf-oauth-rfc7523bis, S15). The login rate limits are raised. Redirect URIs are
  \`https://rp.conformance.test/cb/…\` (nothing listens there: the runner reads the redirect).
- **Reference**: the same modules against panva's oidc-provider (\`${REF_NAME:-not run}\`, npm, pinned in
  interop/package.json; \`conformance/reference-op.mjs\`), in the right-hand columns, so the runner itself
  is checked: a module the reference fails is a runner bug until shown otherwise.
- **What each module checks** follows the suite's module of the same name (its conditions; see the docstrings in
  \`conformance/modules.py\`). PASS may carry the suite's warnings in the note; FAIL names the failed condition;
  SKIPPED is the suite's own skip (an optional feature Sesame does not advertise); N/A is the suite's
  "variant not applicable".
- The reference's two FAILs, looked into: \`oidcc-ensure-redirect-uri-in-authorization-request\` (oidc-provider uses
  the one registered redirect URI when the request has none, as OAuth 2.0 3.1.2.3 allows; OIDC Core 3.1.2.1
  requires redirect_uri and the suite's EnsureErrorFromAuthorizationEndpointResponse fails it too) and
  \`oidcc-registration-sector-uri\` (the runner's limit below).
- **FAPI 2.0** (\`fapi2-security-profile-final-test-plan\`, the suite's FAPI2SPFinalTestPlan): a second \`sesame serve\`
  with \`profile = "fapi2"\` server-wide (\`SESAME_PROFILE=fapi2\`: the suite tests an authorization server set up
  for FAPI 2.0) on its own SQLite database, with Sesame's defaults otherwise (neither of the two OIDC
  certification settings above); two clients added with \`sesame clients add --auth-method private_key_jwt --jwks …\`
  (an RSA key signing PS256 and an EC key signing ES256; ES256 ID tokens; client 2's redirect URI has its own
  query, as the suite's client2). The variant: client_auth_type=private_key_jwt, sender_constrain=dpop,
  fapi_profile=plain_fapi, fapi_request_method=unsigned, fapi_response_mode=plain_response, openid=openid_connect.
  The runner makes its DPoP proofs and client assertions itself (\`conformance/fapi2_flow.py\`, with
  \`cryptography\`), so that the negative modules can send what a JOSE library refuses to make. The mTLS
  variants are SKIPPED (Sesame offers neither mutual-TLS client authentication nor certificate-bound tokens,
  README); N/A rows are the suite's VariantNotApplicable (other profiles, grant_management). Not run: the
  signed-request and JARM variants (they are the Message Signing plan's), and the reference OP for this plan
  (oidc-provider's FAPI 2.0 profile needs a provider of its own, not yet in \`reference-op.mjs\`).
- **FAPI 2.0, what the plan changed in Sesame and what is debatable.** Three modules failed at first and
  Sesame was fixed (each with a regression test in \`crates/sesame-op/tests/it\`):
  \`…-par-ensure-jwt-client-assertions-nbf-over-60-seconds-in-the-future-fails\` (an assertion's \`nbf\`/\`iat\` in
  the future was not checked; RFC 7519 §4.1.5: refused beyond 60 s of skew now), FAPI 2.0 §5.3.2.1's "the issuer as
  the sole audience" under the legacy-audience switches (refused for a FAPI 2.0 client now whatever
  \`legacy_assertion_audience\` says), and
  \`…-par-ensure-reused-request-uri-prior-to-auth-completion-succeeds\` (debatable: RFC 9126 §4 says request URIs
  SHOULD be one-time and MAY allow a reload; Sesame took the pushed request at the first visit, so a reload of
  the login page's URL showed an error page; it now keeps it until the user comes back from the login, once,
  as the FAPI working group advises, and the suite expects). Also debatable, and how the runner plays them:
  \`…-ensure-holder-of-key-required\` also checks each endpoint's TLS versions and ciphers, which needs https (the
  runner serves http on 127.0.0.1; TLS is the terminating proxy's) and is noted, not run;
  \`…-user-rejects-authentication\` sends \`prompt=consent\` so that the refusal is the user's on the consent page
  (the other modules' consent is remembered); the long state/nonce modules accept a refusal as the suite does
  (a warning).
- Known limits of the runner: it serves http only, so a \`sector_identifier_uri\` (https required by oidc-provider)
  cannot be offered to the reference; \`oidcc-server-rotate-keys\` needs an operator rotation the runner can do
  only for Sesame (\`sesame keys rotate\`); \`CONFORMANCE_ASSERTION_AUD=issuer\` is a diagnostic switch, never used here.

EOF
  cat "$WORK/tables.md"
  [ -z "$RP_SECTION" ] || printf '\n%s\n' "$RP_SECTION"
} >"$ROOT/CONFORMANCE.md"
log "wrote CONFORMANCE.md (${ELAPSED}s)"
exit "$rc"
