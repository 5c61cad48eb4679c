# Sourced by run.sh: panva's oidc-provider with its FAPI 2.0 profile (OP_FAPI2=1 node
# interop/op.mjs: PAR required, DPoP with nonces, private_key_jwt with the app's public JWK in
# the client's `jwks`, PS256/ES256/EdDSA only) as the provider of `sesame app --profile fapi2
# --private-key KEY`, once with a P-256 key (ES256) and once with an RSA key (PS256); login,
# UserInfo, logout, and the profile's refusals, through drive-app.mjs --fapi2.
run_oidc_provider_fapi2_peer() {
  local op_port ec_port rsa_port ops kind port key alg client pid
  read -r op_port ec_port rsa_port <<<"$(free_ports 3)"
  ops="http://127.0.0.1:$op_port"
  # The apps' keys, PKCS#8 PEM (node's crypto, as the provider's own are made).
  node -e '
    const { generateKeyPairSync } = require("node:crypto");
    const { writeFileSync } = require("node:fs");
    const pem = (k) => k.privateKey.export({ type: "pkcs8", format: "pem" });
    writeFileSync(process.argv[1], pem(generateKeyPairSync("ec", { namedCurve: "P-256" })), { mode: 0o600 });
    writeFileSync(process.argv[2], pem(generateKeyPairSync("rsa", { modulusLength: 2048 })), { mode: 0o600 });
  ' "$WORK/fapi2-ec.pem" "$WORK/fapi2-rsa.pem"
  log "oidc-provider (FAPI 2.0) on $ops"
  OP_FAPI2=1 node "$INTEROP/op.mjs" --port "$op_port" \
    --basic-app "http://127.0.0.1:$ec_port" --post-app "http://127.0.0.1:$rsa_port" \
    --basic-key "$WORK/fapi2-ec.pem" --post-key "$WORK/fapi2-rsa.pem" >"$WORK/op-fapi2.log" 2>&1 &
  PIDS+=($!)
  wait_for "$WORK/op-fapi2.log" "ready on $ops" 60 "$!" || { echo "FAIL oidc-provider (FAPI 2.0): did not start" | tee -a "$RESULTS"; return 0; }
  for kind in ec rsa; do
    if [ "$kind" = ec ]; then
      port=$ec_port client="$(grep -o 'basic_client=[^ ]*' "$WORK/op-fapi2.log" | cut -d= -f2)"
    else
      port=$rsa_port client="$(grep -o 'post_client=[^ ]*' "$WORK/op-fapi2.log" | cut -d= -f2)"
    fi
    key="$WORK/fapi2-$kind.pem" alg="$(tr a-z A-Z <<<"${client#sesame-fapi2-}")"
    log "sesame app --profile fapi2 ($client) on 127.0.0.1:$port"
    "$SESAME_BIN" app --issuer "$ops" --client-id "$client" --profile fapi2 --private-key "$key" \
      --scope "openid profile email" --listen "127.0.0.1:$port" >"$WORK/app-fapi2-$kind.log" 2>&1 &
    pid=$!
    PIDS+=("$pid")
    wait_for "$WORK/app-fapi2-$kind.log" "Demo app on" 30 "$pid" || { echo "FAIL oidc-provider (FAPI 2.0): sesame app did not start ($client)" | tee -a "$RESULTS"; continue; }
    run_peer "oidc-provider (FAPI 2.0, $client)" node "$INTEROP/drive-app.mjs" \
      --op "$ops" --app "http://127.0.0.1:$port" --user "alice-fapi2-$kind" \
      --auth-method "private_key_jwt, $alg" --client-id "$client" --key "$key" \
      --fapi2 --par --dpop
    kill "$pid" 2>/dev/null || true
  done
}
