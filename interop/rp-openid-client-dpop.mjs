// panva's openid-client (npm) as a DPoP relying party of `sesame serve` with
// `dpop_nonce = "required"` and a client added with `--dpop` (RFC 9449):
// getDPoPHandle on the authorization code grant (with dpop_jkt), the nonce
// retry the library runs on `use_dpop_nonce`, userinfo with the DPoP scheme (and
// the bound token refused as Bearer), refresh (a public client's refresh token
// is bound: another key is refused), and PAR with a DPoP proof binding the code.
// Every request the library sends is recorded (through customFetch), so the
// script checks what went over the wire, not only what the library returns.
//
//   node rp-openid-client-dpop.mjs --issuer http://127.0.0.1:4200 --client-id ID \
//     [--client-secret S] --redirect-uri http://127.0.0.1:4299/cb \
//     --username alice --password '…'
// Without --client-secret the client is public (token_endpoint_auth_method none).

import { readFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import { parseArgs } from 'node:util';

import * as client from 'openid-client';

import { Browser, check } from './lib/browser.mjs';
import { reporter } from './lib/steps.mjs';

const { values: args } = parseArgs({
  options: {
    issuer: { type: 'string' },
    'client-id': { type: 'string' },
    'client-secret': { type: 'string' },
    'redirect-uri': { type: 'string' },
    username: { type: 'string' },
    password: { type: 'string' },
  },
});

const require = createRequire(import.meta.url);
const version = JSON.parse(readFileSync(require.resolve('openid-client/package.json'), 'utf8')).version;
const kind = args['client-secret'] ? 'confidential' : 'public';
const report = reporter(`openid-client@${version} DPoP`);
const b = new Browser();
const issuer = args.issuer.replace(/\/+$/, '');
const redirectUri = args['redirect-uri'];

/** Every request the library made: its path, its proof's claims, the answer. */
const wire = [];
function claimsOf(proof) {
  if (!proof) return undefined;
  return JSON.parse(Buffer.from(proof.split('.')[1], 'base64url').toString('utf8'));
}
async function recordingFetch(url, options) {
  const r = await fetch(url, options);
  const proof = new Headers(options?.headers).get('dpop');
  let error;
  if (r.status >= 400) {
    const body = await r.clone().text();
    try {
      error = JSON.parse(body).error;
    } catch {
      error = undefined;
    }
  }
  wire.push({
    path: new URL(url).pathname,
    proof: claimsOf(proof),
    status: r.status,
    error,
    challenge: r.headers.get('www-authenticate'),
    nonce: r.headers.get('dpop-nonce'),
  });
  return r;
}
/** The requests to `path` made while `fn` ran. */
async function watch(path, fn) {
  const from = wire.length;
  const out = await fn();
  return [out, wire.slice(from).filter((w) => w.path === path)];
}

/** Logs in (when asked) and allows the consent page; returns the callback URL. */
async function signIn(authorizationUrl) {
  let r = await b.follow(authorizationUrl.href, { stopAt: redirectUri });
  if (!r.stoppedAt && new URL(r.url).pathname === '/login') {
    r = await b.submit(r, {
      pick: (f) => 'username' in f.fields && 'password' in f.fields && 'csrf_token' in f.fields,
      values: { username: args.username, password: args.password },
      stopAt: redirectUri,
    });
  }
  if (!r.stoppedAt) {
    check(r.status === 200, `expected the consent page, got ${r.status} at ${r.url}\n${r.text.slice(0, 800)}`);
    r = await b.submit(r, { pick: (f) => 'interaction' in f.fields, button: 'allow', stopAt: redirectUri });
  }
  check(r.stoppedAt, `the flow did not reach the redirect_uri: ${r.status} at ${r.url}\n${r.text.slice(0, 800)}`);
  return new URL(r.stoppedAt);
}

/** Expects `fn` to be refused with the OAuth error `code`. */
async function refused(fn, code, what) {
  try {
    await fn();
  } catch (e) {
    if (e?.error === code) return;
    throw e;
  }
  throw new Error(`${what} was accepted`);
}

let config;
let DPoP;
let tokens;
let sub;

await report.step(`discovery, DPoP key (${kind})`, async () => {
  const auth = args['client-secret'] ? client.ClientSecretBasic(args['client-secret']) : client.None();
  config = await client.discovery(new URL(issuer), args['client-id'], undefined, auth, {
    execute: [client.allowInsecureRequests],
  });
  config[client.customFetch] = recordingFetch;
  const md = config.serverMetadata();
  check(md.issuer === issuer, `issuer ${md.issuer}`);
  check(md.dpop_signing_alg_values_supported?.includes('ES256'), 'ES256 not in dpop_signing_alg_values_supported');
  DPoP = client.getDPoPHandle(config, await client.randomDPoPKeyPair('ES256'));
});

/** A code flow: authorization URL from `build(params)`, the code redeemed with `handle`. */
async function codeFlow(build, handle = DPoP) {
  const codeVerifier = client.randomPKCECodeVerifier();
  const state = client.randomState();
  const nonce = client.randomNonce();
  const params = {
    redirect_uri: redirectUri,
    scope: 'openid profile email offline_access',
    code_challenge: await client.calculatePKCECodeChallenge(codeVerifier),
    code_challenge_method: 'S256',
    state,
    nonce,
    prompt: 'consent',
  };
  const callback = await signIn(await build(params));
  return client.authorizationCodeGrant(config, callback, {
    pkceCodeVerifier: codeVerifier,
    expectedState: state,
    expectedNonce: nonce,
    idTokenExpected: true,
  }, undefined, { DPoP: handle });
}

await report.step(`authorization code + dpop_jkt, use_dpop_nonce retried (${kind})`, async () => {
  const jkt = await DPoP.calculateThumbprint();
  const [out, calls] = await watch('/token', () =>
    codeFlow(async (params) => client.buildAuthorizationUrl(config, { ...params, dpop_jkt: jkt })));
  tokens = out;
  // The server asked for a nonce, and the library came back with it.
  check(calls.length === 2, `expected 2 token requests (nonce retry), saw ${JSON.stringify(calls)}`);
  check(calls[0].status === 400 && calls[0].error === 'use_dpop_nonce' && calls[0].nonce,
    `first token request: ${JSON.stringify(calls[0])}`);
  check(calls[0].proof && calls[0].proof.nonce === undefined, 'the first proof already had a nonce');
  check(calls[1].status === 200 && calls[1].proof?.nonce === calls[0].nonce,
    `the retry did not carry the server's nonce: ${JSON.stringify(calls[1])}`);
  check(tokens.token_type?.toLowerCase() === 'dpop', `token_type ${tokens.token_type}`);
  check(tokens.refresh_token, `no refresh token (scope ${tokens.scope})`);
  sub = tokens.claims().sub;
});

await report.step(`userinfo with DPoP; the bound token refused as Bearer (${kind})`, async () => {
  const [info, calls] = await watch('/userinfo', () =>
    client.fetchUserInfo(config, tokens.access_token, sub, { DPoP }));
  check(info.sub === sub, 'userinfo sub');
  check(info.preferred_username === args.username, `preferred_username ${info.preferred_username}`);
  const last = calls[calls.length - 1];
  check(last.proof?.ath && last.proof?.nonce, `the userinfo proof lacks ath or nonce: ${JSON.stringify(last)}`);
  let denied = false;
  try {
    await client.fetchUserInfo(config, tokens.access_token, sub);
  } catch (e) {
    denied = e instanceof client.WWWAuthenticateChallengeError && e.status === 401;
    if (!denied) throw e;
  }
  check(denied, 'the DPoP-bound access token worked as a Bearer token');
});

await report.step(`refresh with DPoP (${kind})`, async () => {
  if (kind === 'public') {
    // RFC 9449 §5: a public client's refresh token is bound to its key.
    const other = client.getDPoPHandle(config, await client.randomDPoPKeyPair('ES256'));
    await refused(() => client.refreshTokenGrant(config, tokens.refresh_token, undefined, { DPoP: other }),
      'invalid_grant', 'a refresh with another DPoP key');
  }
  const refreshed = await client.refreshTokenGrant(config, tokens.refresh_token, undefined, { DPoP });
  check(refreshed.token_type?.toLowerCase() === 'dpop', `token_type ${refreshed.token_type}`);
  check(refreshed.refresh_token && refreshed.refresh_token !== tokens.refresh_token, 'refresh token not rotated');
  await client.fetchUserInfo(config, refreshed.access_token, sub, { DPoP });
});

await report.step(`PAR with a DPoP proof binds the code (${kind})`, async () => {
  // A proof at PAR binds the code to its key (RFC 9449 §10.1): another key cannot redeem it …
  const other = client.getDPoPHandle(config, await client.randomDPoPKeyPair('ES256'));
  const par = (params) => client.buildAuthorizationUrlWithPAR(config, params, { DPoP });
  await refused(() => codeFlow(par, other), 'invalid_grant', 'a PAR-bound code redeemed with another key');
  const [out, calls] = await watch('/par', () => codeFlow(par));
  check(calls.length >= 1 && calls.every((c) => c.proof?.htu === `${issuer}/par`), `PAR proofs: ${JSON.stringify(calls)}`);
  // … and the key of the push can.
  check(out.token_type?.toLowerCase() === 'dpop', `token_type ${out.token_type}`);
});

if (!report.ok) console.error(`--- requests ---\n${b.dump()}\n--- library requests ---\n${JSON.stringify(wire, null, 1)}`);
process.exit(report.ok ? 0 : 1);
