# Sourced by run.sh: JWT-secured authorization responses (JARM) and pushed authorization
# requests (PAR, RFC 9126) with panva's peers.

# openid-client as the relying party of `sesame serve` (interop/rp-openid-client-jarm-par.mjs):
# one client for JARM (RS256, the default) and one added with --require-par and
# --authorization-signed-response-alg ES256 for PAR and PAR+JARM.
run_jarm_par_peers() {
  local port cb_port db password jarm par
  read -r port cb_port <<<"$(free_ports 2)"
  db="sqlite://$WORK/sesame-jarm-par.db"
  password="interop-$(python3 -c 'import secrets; print(secrets.token_urlsafe(18))')"
  SESAME_LOG_LEVEL=warn "$SESAME_BIN" --database "$db" users add --username jarm --password "$password" \
    --email jarm@example.com --name "Interop User (jarm)" >/dev/null
  start_serve "$db" "$port" "$WORK/serve-jarm-par.log" || return 0
  # jarm_par_client NAME FLAGS…: prints "client_id client_secret" of a new confidential client.
  jarm_par_client() {
    local name="$1"
    shift
    SESAME_LOG_LEVEL=warn "$SESAME_BIN" --database "$db" clients add --name "$name" \
      --redirect-uri "http://127.0.0.1:$cb_port/cb" --grant-type authorization_code "$@" --json |
      python3 -c 'import json,sys; c = json.load(sys.stdin); print(c["client_id"], c["client_secret"])'
  }
  read -r -a jarm <<<"$(jarm_par_client "openid-client JARM")"
  read -r -a par <<<"$(jarm_par_client "openid-client PAR" --require-par --authorization-signed-response-alg ES256)"
  run_peer "openid-client JARM/PAR" node "$INTEROP/rp-openid-client-jarm-par.mjs" \
    --issuer "http://127.0.0.1:$port" --client-id="${jarm[0]}" --client-secret="${jarm[1]}" \
    --par-client-id="${par[0]}" --par-client-secret="${par[1]}" --par-alg ES256 \
    --redirect-uri "http://127.0.0.1:$cb_port/cb" --username jarm --password "$password"
  serve_log_errors "$WORK/serve-jarm-par.log"
}

# oidc-provider with PAR required and JARM (OP_PAR_JARM=1 node interop/op.mjs, ES256 response
# JWTs) as the provider of `sesame app --par --jarm` (client_secret_basic) and of `sesame app
# --jarm` (client_secret_post: PAR because discovery says it is required); login, UserInfo and
# logout through drive-app.mjs.
run_oidc_provider_par_jarm_peer() {
  local op_port basic_port post_port ops method port client secret flags pid
  read -r op_port basic_port post_port <<<"$(free_ports 3)"
  ops="http://127.0.0.1:$op_port"
  log "oidc-provider (PAR required, JARM) on $ops"
  OP_PAR_JARM=1 node "$INTEROP/op.mjs" --port "$op_port" \
    --basic-app "http://127.0.0.1:$basic_port" --post-app "http://127.0.0.1:$post_port" \
    >"$WORK/op-par-jarm.log" 2>&1 &
  PIDS+=($!)
  wait_for "$WORK/op-par-jarm.log" "ready on $ops" 60 "$!" || { echo "FAIL oidc-provider (PAR, JARM): did not start" | tee -a "$RESULTS"; return 0; }
  for method in client_secret_basic client_secret_post; do
    if [ "$method" = client_secret_basic ]; then
      port=$basic_port client=sesame-basic flags="--par --jarm"
    else
      port=$post_port client=sesame-post flags="--jarm"
    fi
    secret="$(grep -o "${client#sesame-}_secret=[^ ]*" "$WORK/op-par-jarm.log" | cut -d= -f2)"
    log "sesame app $flags ($method) on 127.0.0.1:$port"
    # shellcheck disable=SC2086 # $flags: two words or one
    SESAME_APP_CLIENT_SECRET="$secret" "$SESAME_BIN" app --issuer "$ops" --client-id "$client" \
      --auth-method "$method" $flags --scope "openid profile email" \
      --listen "127.0.0.1:$port" >"$WORK/app-par-jarm-$method.log" 2>&1 &
    pid=$!
    PIDS+=("$pid")
    wait_for "$WORK/app-par-jarm-$method.log" "Demo app on" 30 "$pid" || { echo "FAIL oidc-provider (PAR, JARM): sesame app $flags did not start" | tee -a "$RESULTS"; continue; }
    # Either way the request is pushed: drive-app.mjs checks for --par.
    run_peer "oidc-provider (PAR, JARM, $method)" node "$INTEROP/drive-app.mjs" \
      --op "$ops" --app "http://127.0.0.1:$port" --user "alice-par-jarm-$method" --auth-method "$method" --par --jarm
  done
}
