# Sourced by run.sh: panva's openid-client with the device authorization grant (RFC 8628) at
# `sesame serve` (interop/rp-openid-client-device.mjs): one public and one confidential client
# added with the device_code grant (and refresh_token), no redirect URI.
run_device_peers() {
  local port db password public confidential
  read -r port <<<"$(free_ports 1)"
  db="sqlite://$WORK/sesame-device.db"
  password="interop-$(python3 -c 'import secrets; print(secrets.token_urlsafe(18))')"
  SESAME_LOG_LEVEL=warn "$SESAME_BIN" --database "$db" users add --username device --password "$password" \
    --email device@example.com --name "Interop User (device)" >/dev/null
  start_serve "$db" "$port" "$WORK/serve-device.log" || return 0
  # device_client NAME FLAGS…: prints "client_id client_secret" ("-" for a public client's).
  device_client() {
    local name="$1"
    shift
    SESAME_LOG_LEVEL=warn "$SESAME_BIN" --database "$db" clients add --name "$name" \
      --grant-type urn:ietf:params:oauth:grant-type:device_code --grant-type refresh_token "$@" --json |
      python3 -c 'import json,sys; c = json.load(sys.stdin); print(c["client_id"], c.get("client_secret") or "-")'
  }
  read -r -a public <<<"$(device_client "openid-client device (public)" --public)"
  read -r -a confidential <<<"$(device_client "openid-client device (confidential)" --auth-method client_secret_basic)"
  run_peer "openid-client device flow" node "$INTEROP/rp-openid-client-device.mjs" \
    --issuer "http://127.0.0.1:$port" --public-client-id="${public[0]}" \
    --client-id="${confidential[0]}" --client-secret="${confidential[1]}" \
    --username device --password "$password"
  serve_log_errors "$WORK/serve-device.log"
}
