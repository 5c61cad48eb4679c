// panva's openid-client (npm) as a third-party relying party against `sesame serve`:
// discovery, authorization code flow with PKCE (the login and consent forms are
// clicked through with a cookie-keeping client), ID token signature check,
// userinfo, refresh (with rotation), revocation, and RP-initiated logout.
//
//   node rp-openid-client.mjs --issuer http://127.0.0.1:4200 --client-id ID \
//     --client-secret S --auth-method client_secret_basic|client_secret_post \
//     --redirect-uri http://127.0.0.1:4299/cb --post-logout-redirect-uri http://127.0.0.1:4299/bye \
//     --username alice --password '…'

import { readFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import { parseArgs } from 'node:util';

import * as client from 'openid-client';

import { Browser, check, parseForms } from './lib/browser.mjs';
import { reporter } from './lib/steps.mjs';

const { values: args } = parseArgs({
  options: {
    issuer: { type: 'string' },
    'client-id': { type: 'string' },
    'client-secret': { type: 'string' },
    'auth-method': { type: 'string' },
    'redirect-uri': { type: 'string' },
    'post-logout-redirect-uri': { type: 'string' },
    username: { type: 'string' },
    password: { type: 'string' },
  },
});

const require = createRequire(import.meta.url);
const version = JSON.parse(readFileSync(require.resolve('openid-client/package.json'), 'utf8')).version;
const method = args['auth-method'];
const report = reporter(`openid-client@${version}`);
const b = new Browser();
const issuer = args.issuer.replace(/\/+$/, '');
const redirectUri = args['redirect-uri'];

const auth = {
  client_secret_basic: client.ClientSecretBasic,
  client_secret_post: client.ClientSecretPost,
}[method];
check(auth, `unsupported --auth-method ${method}`);

/** Logs in and allows the consent page; returns the callback URL (redirect_uri?code=…). */
async function signIn(authorizationUrl, { expectLogin = true } = {}) {
  let r = await b.follow(authorizationUrl.href, { stopAt: redirectUri });
  if (expectLogin) {
    check(r.status === 200 && new URL(r.url).pathname === '/login', `expected Sesame's login page, got ${r.status} ${r.url}`);
    r = await b.submit(r, {
      pick: (f) => 'username' in f.fields && 'password' in f.fields && 'csrf_token' in f.fields,
      values: { username: args.username, password: args.password },
      stopAt: redirectUri,
    });
  }
  if (!r.stoppedAt) {
    // Sesame's consent page: hidden interaction + csrf_token, a button named allow.
    check(r.status === 200, `expected the consent page, got ${r.status} at ${r.url}\n${r.text.slice(0, 800)}`);
    r = await b.submit(r, { pick: (f) => 'interaction' in f.fields, button: 'allow', stopAt: redirectUri });
  }
  check(r.stoppedAt, `the flow did not reach the redirect_uri: ${r.status} at ${r.url}\n${r.text.slice(0, 800)}`);
  return new URL(r.stoppedAt);
}

let config;
let tokens;
let refreshed;

await report.step(`discovery (${method})`, async () => {
  config = await client.discovery(new URL(issuer), args['client-id'], undefined, auth(args['client-secret']), {
    execute: [client.allowInsecureRequests],
  });
  // Check ID token signatures against the JWKS, not just the token endpoint's TLS.
  client.enableNonRepudiationChecks(config);
  const md = config.serverMetadata();
  check(md.issuer === issuer, `issuer ${md.issuer}`);
  check(md.code_challenge_methods_supported?.includes('S256'), 'S256 not advertised');
  check(md.token_endpoint_auth_methods_supported?.includes(method), `${method} not advertised`);
});

await report.step(`authorization code + PKCE, ID token verified (${method})`, async () => {
  const codeVerifier = client.randomPKCECodeVerifier();
  const codeChallenge = await client.calculatePKCECodeChallenge(codeVerifier);
  const state = client.randomState();
  const nonce = client.randomNonce();
  const url = client.buildAuthorizationUrl(config, {
    redirect_uri: redirectUri,
    scope: 'openid profile email offline_access',
    code_challenge: codeChallenge,
    code_challenge_method: 'S256',
    state,
    nonce,
    prompt: 'consent',
  });
  const callback = await signIn(url);
  tokens = await client.authorizationCodeGrant(config, callback, {
    pkceCodeVerifier: codeVerifier,
    expectedState: state,
    expectedNonce: nonce,
    idTokenExpected: true,
  });
  const claims = tokens.claims();
  check(claims?.iss === issuer, `id_token iss ${claims?.iss}`);
  check(claims.aud === args['client-id'] || claims.aud?.includes?.(args['client-id']), `id_token aud ${claims.aud}`);
  check(claims.nonce === nonce, 'nonce');
  check(tokens.access_token && tokens.token_type?.toLowerCase() === 'bearer', 'no bearer access token');
  check(tokens.refresh_token, `no refresh token (scope ${tokens.scope})`);
});

await report.step(`userinfo (${method})`, async () => {
  const sub = tokens.claims().sub;
  const info = await client.fetchUserInfo(config, tokens.access_token, sub);
  check(info.sub === sub, 'userinfo sub');
  check(info.preferred_username === args.username, `preferred_username ${info.preferred_username}`);
  check(info.email, `no email in userinfo: ${JSON.stringify(info)}`);
});

await report.step(`refresh with rotation (${method})`, async () => {
  refreshed = await client.refreshTokenGrant(config, tokens.refresh_token);
  check(refreshed.access_token && refreshed.access_token !== tokens.access_token, 'no new access token');
  check(refreshed.refresh_token && refreshed.refresh_token !== tokens.refresh_token, 'refresh token not rotated');
  const claims = refreshed.claims();
  if (claims) check(claims.sub === tokens.claims().sub, 'sub changed on refresh');
  await client.fetchUserInfo(config, refreshed.access_token, tokens.claims().sub);
});

await report.step(`revocation (${method})`, async () => {
  await client.tokenRevocation(config, refreshed.refresh_token, { token_type_hint: 'refresh_token' });
  await client.tokenRevocation(config, refreshed.access_token, { token_type_hint: 'access_token' });
  // The revoked access token no longer works at UserInfo …
  let denied = false;
  try {
    await client.fetchUserInfo(config, refreshed.access_token, tokens.claims().sub);
  } catch (e) {
    // RFC 6750 §3.1: 401 with a Bearer challenge carrying error="invalid_token".
    denied = e instanceof client.WWWAuthenticateChallengeError && e.status === 401
      && e.cause?.some((c) => c.scheme === 'bearer' && c.parameters?.error === 'invalid_token');
    if (!denied) throw e;
  }
  check(denied, 'the revoked access token still works at userinfo');
  // … and the revoked refresh token is refused.
  let refused = false;
  try {
    await client.refreshTokenGrant(config, refreshed.refresh_token);
  } catch (e) {
    refused = e?.error === 'invalid_grant';
    if (!refused) throw e;
  }
  check(refused, 'the revoked refresh token was accepted');
  const intro = await client.tokenIntrospection(config, refreshed.access_token);
  check(intro.active === false, `introspection of a revoked token: ${JSON.stringify(intro)}`);
});

await report.step(`RP-initiated logout (${method})`, async () => {
  const state = client.randomState();
  const url = client.buildEndSessionUrl(config, {
    id_token_hint: tokens.id_token,
    post_logout_redirect_uri: args['post-logout-redirect-uri'],
    state,
  });
  const stop = args['post-logout-redirect-uri'];
  let r = await b.follow(url.href, { stopAt: stop });
  if (!r.stoppedAt) {
    r = await b.submit(r, { pick: (f) => parseForms(r.text, r.url).length > 0 && 'csrf_token' in f.fields, button: 'logout', stopAt: stop });
  }
  check(r.stoppedAt, `logout did not return to post_logout_redirect_uri: ${r.status} at ${r.url}`);
  check(new URL(r.stoppedAt).searchParams.get('state') === state, `state not returned: ${r.stoppedAt}`);
  // The provider session is gone: a new authorization asks for the password again.
  const again = client.buildAuthorizationUrl(config, {
    redirect_uri: redirectUri,
    scope: 'openid',
    code_challenge: await client.calculatePKCECodeChallenge(client.randomPKCECodeVerifier()),
    code_challenge_method: 'S256',
    state: client.randomState(),
  });
  r = await b.follow(again.href, { stopAt: redirectUri });
  check(!r.stoppedAt && new URL(r.url).pathname === '/login', `still signed in after logout: ${r.url}`);
});

if (!report.ok) console.error(`--- requests ---\n${b.dump()}`);
process.exit(report.ok ? 0 : 1);
