// panva's oidc-provider as a third-party OpenID Provider for Sesame's relying party.
//
//   node op.mjs --port 4100 --basic-app http://127.0.0.1:4101 --post-app http://127.0.0.1:4102
//
// Two static clients:
//   sesame-basic  client_secret_basic, redirect {basic-app}/callback
//   sesame-post   client_secret_post,  redirect {post-app}/callback
// (secrets: "sesame-basic-secret-…" / "sesame-post-secret-…", printed on the ready line).
// In-memory adapter (the library's default), any username logs in (devInteractions: its own
// login and consent pages), PKCE required, RP-initiated logout enabled. Listens on 127.0.0.1 only
// and prints "oidc-provider@VERSION ready on http://127.0.0.1:PORT" when it accepts requests.
//
// OP_POST_LOGOUT_PATH=P: sesame-basic's post-logout redirect URI is {basic-app}/P instead of
// {basic-app}/ (sesame serve's upstream logout comes back to /upstream/{name}/logged-out).
//
// OP_DPOP=1: features.dPoP on, with server-provided nonces required at every endpoint (RFC 9449
// §8, §9), and both clients' tokens DPoP-bound (dpop_bound_access_tokens).
//
// OP_PAR_JARM=1: pushed authorization requests required (features.pushedAuthorizationRequests,
// requirePushedAuthorizationRequests, RFC 9126) and JWT-secured authorization responses
// (features.jwtResponseModes, JARM) on, with both clients' responses signed ES256
// (authorization_signed_response_alg).
//
// OP_FAPI2=1 (with --basic-key FILE --post-key FILE: the apps' PKCS#8 PEM keys): the FAPI 2.0
// Security Profile (features.fapi, profile '2.0': PKCE required, client assertions with aud =
// the issuer only, no access tokens in queries, redirect_uri never omitted), with what it asks
// of the rest: PAR required, DPoP (nonces required) with bound tokens, private_key_jwt only
// (each key's public JWK in its client's `jwks`, its RFC 7638 thumbprint as `kid`, as
// `sesame app` names it), PS256/ES256/EdDSA only (ID tokens, client
// assertions, DPoP proofs), `iss` in every authorization response (RFC 9207, always on here).
// The two clients are then sesame-fapi2-<alg> (es256 for an EC key, ps256 for an RSA one,
// eddsa for Ed25519), for basic-app and post-app, named on the ready line (basic_client=,
// post_client=); their ID tokens are signed with that same algorithm.

import { createHash, createPublicKey, generateKeyPairSync, randomBytes } from 'node:crypto';
import { readFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import { parseArgs } from 'node:util';

import Provider from 'oidc-provider';

const { values: args } = parseArgs({
  options: {
    port: { type: 'string' },
    'basic-app': { type: 'string' },
    'post-app': { type: 'string' },
    'basic-key': { type: 'string' },
    'post-key': { type: 'string' },
  },
});
for (const k of ['port', 'basic-app', 'post-app']) {
  if (!args[k]) {
    console.error(`usage: node op.mjs --port P --basic-app URL --post-app URL (missing --${k})`);
    process.exit(2);
  }
}

const require = createRequire(import.meta.url);
const version = JSON.parse(readFileSync(require.resolve('oidc-provider/package.json'), 'utf8')).version;

const issuer = `http://127.0.0.1:${args.port}`;
const app = (base) => base.replace(/\/+$/, '');

// Fresh signing keys per run: RS256 (the default) and ES256.
const rsa = generateKeyPairSync('rsa', { modulusLength: 2048 }).privateKey.export({ format: 'jwk' });
const ec = generateKeyPairSync('ec', { namedCurve: 'P-256' }).privateKey.export({ format: 'jwk' });

const secrets = {
  basic: `sesame-basic-secret-${randomBytes(16).toString('hex')}`,
  post: `sesame-post-secret-${randomBytes(16).toString('hex')}`,
};

const dpop = process.env.OP_DPOP === '1';
const parJarm = process.env.OP_PAR_JARM === '1';
const fapi2 = process.env.OP_FAPI2 === '1';
if (fapi2 && !(args['basic-key'] && args['post-key'])) {
  console.error('usage: OP_FAPI2=1 node op.mjs … --basic-key PEM --post-key PEM');
  process.exit(2);
}
// The profile's algorithms (FAPI 2.0 §5.4.1).
const FAPI2_ALGS = ['PS256', 'ES256', 'EdDSA'];

const clients = [
  {
    client_id: 'sesame-basic',
    client_secret: secrets.basic,
    client_name: 'Sesame app (client_secret_basic)',
    token_endpoint_auth_method: 'client_secret_basic',
    redirect_uris: [`${app(args['basic-app'])}/callback`],
    post_logout_redirect_uris: [`${app(args['basic-app'])}/${process.env.OP_POST_LOGOUT_PATH ?? ''}`],
    grant_types: ['authorization_code'],
    response_types: ['code'],
  },
  {
    client_id: 'sesame-post',
    client_secret: secrets.post,
    client_name: 'Sesame app (client_secret_post)',
    token_endpoint_auth_method: 'client_secret_post',
    redirect_uris: [`${app(args['post-app'])}/callback`],
    post_logout_redirect_uris: [`${app(args['post-app'])}/`],
    grant_types: ['authorization_code'],
    response_types: ['code'],
  },
];

/** A JWK's RFC 7638 thumbprint (the `kid` that `sesame app` gives its key). */
function thumbprint(jwk) {
  const members = { RSA: ['e', 'kty', 'n'], EC: ['crv', 'kty', 'x', 'y'], OKP: ['crv', 'kty', 'x'] }[jwk.kty];
  const canonical = JSON.stringify(Object.fromEntries(members.map((k) => [k, jwk[k]])));
  return createHash('sha256').update(canonical).digest('base64url');
}

/** A FAPI 2.0 client for `base`, authenticating with the key in `pemFile` (its public half). */
function fapi2Client(base, pemFile) {
  const jwk = createPublicKey(readFileSync(pemFile, 'utf8')).export({ format: 'jwk' });
  const { kty, crv } = jwk;
  const alg = { RSA: 'PS256', EC: crv === 'P-256' ? 'ES256' : undefined, OKP: crv === 'Ed25519' ? 'EdDSA' : undefined }[kty];
  if (!alg) throw new Error(`${pemFile}: not an RSA, P-256 or Ed25519 key`);
  return {
    client_id: `sesame-fapi2-${alg.toLowerCase()}`,
    client_name: `Sesame app (FAPI 2.0, ${alg})`,
    token_endpoint_auth_method: 'private_key_jwt',
    token_endpoint_auth_signing_alg: alg,
    jwks: { keys: [{ ...jwk, kid: thumbprint(jwk), use: 'sig', alg }] },
    id_token_signed_response_alg: alg,
    dpop_bound_access_tokens: true,
    redirect_uris: [`${app(base)}/callback`],
    post_logout_redirect_uris: [`${app(base)}/`],
    grant_types: ['authorization_code'],
    response_types: ['code'],
  };
}
if (fapi2) {
  clients.splice(0, clients.length, fapi2Client(args['basic-app'], args['basic-key']),
    fapi2Client(args['post-app'], args['post-key']));
}

const configuration = {
  clients,
  jwks: { keys: [{ ...rsa, use: 'sig', alg: fapi2 ? 'PS256' : 'RS256' }, { ...ec, use: 'sig', alg: 'ES256' }] },
  // Any login name is an account; its claims are derived from the name.
  async findAccount(ctx, id) {
    return {
      accountId: id,
      async claims() {
        return {
          sub: id,
          name: `Interop ${id}`,
          preferred_username: id,
          email: `${id}@interop.example`,
          email_verified: true,
        };
      },
    };
  },
  claims: {
    openid: ['sub'],
    profile: ['name', 'preferred_username'],
    email: ['email', 'email_verified'],
  },
  features: {
    devInteractions: { enabled: true },
    rpInitiatedLogout: { enabled: true },
  },
  pkce: { required: () => true },
  // Cookies: signed with a per-run key. Over plain http the library leaves `Secure` off
  // (it only sets it when the request itself is https), and SameSite=Lax lets the
  // _interaction/_session cookies come back on the top-level redirects of the flow.
  cookies: {
    keys: [randomBytes(32).toString('hex')],
    long: { httpOnly: true, sameSite: 'lax' },
    short: { httpOnly: true, sameSite: 'lax' },
  },
  ttl: { Session: 3600, Interaction: 600, Grant: 3600 },
};
if (dpop) {
  configuration.features.dPoP = { enabled: true, nonceSecret: randomBytes(32), requireNonce: () => true };
  for (const c of clients) c.dpop_bound_access_tokens = true;
}
if (parJarm) {
  configuration.features.pushedAuthorizationRequests = { enabled: true, requirePushedAuthorizationRequests: true };
  configuration.features.jwtResponseModes = { enabled: true };
  for (const c of clients) c.authorization_signed_response_alg = 'ES256';
}

if (fapi2) {
  configuration.features.fapi = { enabled: true, profile: '2.0' };
  configuration.features.pushedAuthorizationRequests = { enabled: true, requirePushedAuthorizationRequests: true };
  configuration.features.dPoP = { enabled: true, nonceSecret: randomBytes(32), requireNonce: () => true };
  configuration.clientAuthMethods = ['private_key_jwt'];
  configuration.enabledJWA = {
    idTokenSigningAlgValues: FAPI2_ALGS,
    clientAuthSigningAlgValues: FAPI2_ALGS,
    dPoPSigningAlgValues: ['ES256', 'EdDSA', 'PS256'],
  };
}

const provider = new Provider(issuer, configuration);
provider.on('server_error', (ctx, err) => console.error('oidc-provider server_error', err));
provider.on('grant.error', (ctx, err) => console.error('oidc-provider grant.error', err.message, err.error_description ?? '', err.error_detail ?? ''));
provider.on('authorization.error', (ctx, err) => console.error('oidc-provider authorization.error', err.message, err.error_description ?? ''));
provider.on('end_session.error', (ctx, err) => console.error('oidc-provider end_session.error', err.message, err.error_description ?? ''));
provider.on('pushed_authorization_request.error', (ctx, err) => console.error('oidc-provider pushed_authorization_request.error', err.message, err.error_description ?? '', err.error_detail ?? ''));

const server = provider.listen(Number(args.port), '127.0.0.1', () => {
  const names = fapi2
    ? `basic_client=${clients[0].client_id} post_client=${clients[1].client_id}`
    : `basic_secret=${secrets.basic} post_secret=${secrets.post}`;
  console.log(`oidc-provider@${version} ready on ${issuer} ${names}`);
});
const stop = () => {
  server.close(() => process.exit(0));
  server.closeAllConnections();
  setTimeout(() => process.exit(0), 2000).unref();
};
process.on('SIGTERM', stop);
process.on('SIGINT', stop);
