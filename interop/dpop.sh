# Sourced by run.sh: panva's openid-client as a DPoP relying party of `sesame serve`
# with `dpop_nonce = "required"` (SESAME_DPOP_NONCE), one confidential and one
# public client added with --dpop (interop/rp-openid-client-dpop.mjs).
run_dpop_peers() {
  local port cb_port db password kind json id secret
  read -r port cb_port <<<"$(free_ports 2)"
  db="sqlite://$WORK/sesame-dpop.db"
  password="interop-$(python3 -c 'import secrets; print(secrets.token_urlsafe(18))')"
  SESAME_LOG_LEVEL=warn "$SESAME_BIN" --database "$db" users add --username dpop --password "$password" \
    --email dpop@example.com --name "Interop User (dpop)" >/dev/null
  SESAME_DPOP_NONCE=required start_serve "$db" "$port" "$WORK/serve-dpop.log" || return 0
  for kind in confidential public; do
    json="$(SESAME_LOG_LEVEL=warn "$SESAME_BIN" --database "$db" clients add --name "openid-client DPoP ($kind)" \
      --redirect-uri "http://127.0.0.1:$cb_port/cb" --grant-type authorization_code --grant-type refresh_token \
      --dpop --json $([ "$kind" = public ] && echo --public))"
    id="$(python3 -c 'import json,sys; print(json.load(sys.stdin)["client_id"])' <<<"$json")"
    secret="$(python3 -c 'import json,sys; print(json.load(sys.stdin).get("client_secret") or "")' <<<"$json")"
    run_peer "openid-client DPoP ($kind)" node "$INTEROP/rp-openid-client-dpop.mjs" \
      --issuer "http://127.0.0.1:$port" --client-id="$id" ${secret:+--client-secret="$secret"} \
      --redirect-uri "http://127.0.0.1:$cb_port/cb" --username dpop --password "$password"
  done
  serve_log_errors "$WORK/serve-dpop.log"
}

# Sourced by run.sh: panva's oidc-provider with DPoP (OP_DPOP=1: nonces required, tokens
# DPoP-bound) as the provider of `sesame app --dpop`; login, UserInfo and logout.
run_oidc_provider_dpop_peer() {
  local op_port port other ops secret pid
  read -r op_port port other <<<"$(free_ports 3)"
  ops="http://127.0.0.1:$op_port"
  log "oidc-provider (DPoP) on $ops"
  OP_DPOP=1 node "$INTEROP/op.mjs" --port "$op_port" \
    --basic-app "http://127.0.0.1:$port" --post-app "http://127.0.0.1:$other" \
    >"$WORK/op-dpop.log" 2>&1 &
  PIDS+=($!)
  wait_for "$WORK/op-dpop.log" "ready on $ops" 60 "$!" || { echo "FAIL oidc-provider (DPoP): did not start" | tee -a "$RESULTS"; return 0; }
  secret="$(grep -o 'basic_secret=[^ ]*' "$WORK/op-dpop.log" | cut -d= -f2)"
  log "sesame app --dpop on 127.0.0.1:$port"
  SESAME_APP_CLIENT_SECRET="$secret" "$SESAME_BIN" app --issuer "$ops" --client-id sesame-basic \
    --auth-method client_secret_basic --dpop --scope "openid profile email" \
    --listen "127.0.0.1:$port" >"$WORK/app-dpop.log" 2>&1 &
  pid=$!
  PIDS+=("$pid")
  wait_for "$WORK/app-dpop.log" "Demo app on" 30 "$pid" || { echo "FAIL oidc-provider (DPoP): sesame app did not start" | tee -a "$RESULTS"; return 0; }
  run_peer "oidc-provider (DPoP)" node "$INTEROP/drive-app.mjs" \
    --op "$ops" --app "http://127.0.0.1:$port" --user alice-dpop --auth-method client_secret_basic --dpop
}
