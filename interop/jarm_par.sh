# Sourced by run.sh: JWT-secured authorization responses (JARM) and pushed authorization
# requests (PAR, RFC 9126) with panva's peers.

# openid-client as the relying party of `sesame serve` (interop/rp-openid-client-jarm-par.mjs):
# one client for JARM (RS256, the default) and one added with --require-par and
# --authorization-signed-response-alg ES256 for PAR and PAR+JARM.
run_jarm_par_peers() {
  local port cb_port db password add jarm par
  read -r port cb_port <<<"$(free_ports 2)"
  db="sqlite://$WORK/sesame-jarm-par.db"
  password="interop-$(python3 -c 'import secrets; print(secrets.token_urlsafe(18))')"
  SESAME_LOG_LEVEL=warn "$SESAME_BIN" --database "$db" users add --username jarm --password "$password" \
    --email jarm@example.com --name "Interop User (jarm)" >/dev/null
  start_serve "$db" "$port" "$WORK/serve-jarm-par.log" || return 0
  # add NAME FLAGS…: prints "client_id client_secret" of a new confidential client.
  add() {
    local name="$1"
    shift
    SESAME_LOG_LEVEL=warn "$SESAME_BIN" --database "$db" clients add --name "$name" \
      --redirect-uri "http://127.0.0.1:$cb_port/cb" --grant-type authorization_code "$@" --json |
      python3 -c 'import json,sys; c = json.load(sys.stdin); print(c["client_id"], c["client_secret"])'
  }
  read -r -a jarm <<<"$(add "openid-client JARM")"
  read -r -a par <<<"$(add "openid-client PAR" --require-par --authorization-signed-response-alg ES256)"
  run_peer "openid-client JARM/PAR" node "$INTEROP/rp-openid-client-jarm-par.mjs" \
    --issuer "http://127.0.0.1:$port" --client-id="${jarm[0]}" --client-secret="${jarm[1]}" \
    --par-client-id="${par[0]}" --par-client-secret="${par[1]}" --par-alg ES256 \
    --redirect-uri "http://127.0.0.1:$cb_port/cb" --username jarm --password "$password"
  serve_log_errors "$WORK/serve-jarm-par.log"
}
