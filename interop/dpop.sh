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
