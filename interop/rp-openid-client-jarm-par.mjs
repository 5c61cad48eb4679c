// panva's openid-client (npm) as a relying party of `sesame serve` with JWT-secured
// authorization responses (JARM) and pushed authorization requests (PAR, RFC 9126):
// `useJwtResponseMode(config)` (the library sends response_mode=jwt and verifies the
// `response` JWT itself: signature against the JWKS, iss, aud, exp, state) and
// `buildAuthorizationUrlWithPAR(...)`. Every request the library sends is recorded
// (through customFetch), and the callback URL is inspected, so the script checks what
// went over the wire, not only what the library returns. Flows: JARM with response_mode
// jwt, query.jwt, fragment.jwt and form_post.jwt, a denied consent (the error inside the response JWT),
// PAR (an unpushed request refused, request_uri single-use) and PAR + JARM.
//
//   node rp-openid-client-jarm-par.mjs --issuer http://127.0.0.1:4200 \
//     --client-id ID --client-secret S \
//     --par-client-id ID2 --par-client-secret S2 --par-alg ES256 \
//     --redirect-uri http://127.0.0.1:4299/cb --username alice --password '…'
//
// --client-id: a client added without --require-par (the JARM cases, RS256 by default);
// --par-client-id: a client added with --require-par and
// --authorization-signed-response-alg PAR_ALG (the PAR and PAR+JARM cases).

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
    'par-client-id': { type: 'string' },
    'par-client-secret': { type: 'string' },
    'par-alg': { type: 'string', default: 'RS256' },
    'redirect-uri': { type: 'string' },
    username: { type: 'string' },
    password: { type: 'string' },
  },
});

const require = createRequire(import.meta.url);
const version = JSON.parse(readFileSync(require.resolve('openid-client/package.json'), 'utf8')).version;
const report = reporter(`openid-client@${version} JARM/PAR`);
const b = new Browser();
const issuer = args.issuer.replace(/\/+$/, '');
const redirectUri = args['redirect-uri'];

/** Every request the library made: method, path, form body, status. */
const wire = [];
async function recordingFetch(url, options) {
  const r = await fetch(url, options);
  const body = typeof options?.body === 'string' || options?.body instanceof URLSearchParams
    ? Object.fromEntries(new URLSearchParams(options.body))
    : undefined;
  wire.push({ method: options?.method ?? 'GET', path: new URL(url).pathname, body, status: r.status });
  return r;
}
/** The requests to `path` made while `fn` ran. */
async function watch(path, fn) {
  const from = wire.length;
  const out = await fn();
  return [out, wire.slice(from).filter((w) => w.path === path)];
}

const part = (jwt, i) => JSON.parse(Buffer.from(jwt.split('.')[i], 'base64url').toString('utf8'));

/** Logs in (when asked) and allows the consent page; returns the callback URL (a POST Request for form_post). */
async function signIn(authorizationUrl, button = 'allow') {
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
    r = await b.submit(r, { pick: (f) => 'interaction' in f.fields, button, stopAt: redirectUri });
  }
  if (!r.stoppedAt) {
    // response_mode=form_post.jwt: a page whose form posts the response to the redirect_uri.
    const form = parseForms(r.text, r.url).find((f) => f.method === 'post' && f.action === redirectUri);
    if (form) return new Request(form.action, { method: 'POST', body: new URLSearchParams(form.fields) });
  }
  check(r.stoppedAt, `the flow did not reach the redirect_uri: ${r.status} at ${r.url}\n${r.text.slice(0, 800)}`);
  return new URL(r.stoppedAt);
}

/** A configuration for one client; `jarm`: with useJwtResponseMode. */
async function configure(id, secret, metadata, jarm) {
  const config = await client.discovery(new URL(issuer), id, metadata, client.ClientSecretBasic(secret), {
    execute: [client.allowInsecureRequests],
  });
  config[client.customFetch] = recordingFetch;
  if (jarm) client.useJwtResponseMode(config);
  return config;
}

/**
 * The browser part of a code flow: the authorization URL from `build(params)`, then
 * Sesame's login and consent pages. Returns what the callback needs.
 */
async function authorize(build, button) {
  const codeVerifier = client.randomPKCECodeVerifier();
  const state = client.randomState();
  const nonce = client.randomNonce();
  const params = {
    redirect_uri: redirectUri,
    scope: 'openid profile email',
    code_challenge: await client.calculatePKCECodeChallenge(codeVerifier),
    code_challenge_method: 'S256',
    state,
    nonce,
    prompt: 'consent',
  };
  const url = await build(params);
  const callback = await signIn(url, button);
  return { url, callback, codeVerifier, state, nonce };
}

/** Redeems the code of `flow` (the library checks the response JWT first under JARM). */
function redeem(config, flow, callback = flow.callback) {
  return client.authorizationCodeGrant(config, callback, {
    pkceCodeVerifier: flow.codeVerifier,
    expectedState: flow.state,
    expectedNonce: flow.nonce,
    idTokenExpected: true,
  });
}

/** The ID token and userinfo of `tokens` are the signed-in user's. */
async function checkTokens(config, tokens) {
  const claims = tokens.claims();
  check(claims.iss === issuer, `ID token iss ${claims.iss}`);
  check(claims.aud === config.clientMetadata().client_id
    || (Array.isArray(claims.aud) && claims.aud.includes(config.clientMetadata().client_id)), `ID token aud ${claims.aud}`);
  const info = await client.fetchUserInfo(config, tokens.access_token, claims.sub);
  check(info.sub === claims.sub, 'userinfo sub');
  check(info.preferred_username === args.username, `preferred_username ${info.preferred_username}`);
  check(info.email, `no email in userinfo: ${JSON.stringify(info)}`);
}

/**
 * The callback carries only a `response` JWT (and no code, state or iss of its own),
 * signed with `alg`, for this client, from this issuer, with the code and the state.
 */
function checkResponseJwt(config, flow, where, alg) {
  const p = where === 'query' ? flow.callback.searchParams : new URLSearchParams(flow.callback.hash.slice(1));
  const jwt = p.get('response');
  check(jwt, `no response= in the callback's ${where}: ${flow.callback.href}`);
  check([...p.keys()].join() === 'response', `the callback has more than response=: ${flow.callback.href}`);
  const header = part(jwt, 0);
  const claims = part(jwt, 1);
  check(header.alg === alg, `response JWT alg ${header.alg}, expected ${alg}`);
  check(header.kid, 'response JWT without kid');
  check(claims.iss === issuer, `response JWT iss ${claims.iss}`);
  check(claims.aud === config.clientMetadata().client_id, `response JWT aud ${claims.aud}`);
  check(claims.code && claims.state === flow.state, `response JWT code/state: ${JSON.stringify(claims)}`);
  check(claims.exp > Date.now() / 1000, `response JWT exp ${claims.exp}`);
  return jwt;
}

/** Expects the library to refuse `fn` (it threw, with no token request made). */
async function refusedLocally(fn, what) {
  const from = wire.length;
  let threw;
  try {
    await fn();
  } catch (e) {
    threw = e;
  }
  check(threw, `${what} was accepted`);
  check(!wire.slice(from).some((w) => w.path === '/token'), `${what}: the library still redeemed the code`);
  return threw;
}

let jarmConfig;
let parConfig;
let parJarmConfig;

await report.step('discovery advertises JARM and PAR', async () => {
  jarmConfig = await configure(args['client-id'], args['client-secret'], undefined, true);
  const md = jarmConfig.serverMetadata();
  check(md.issuer === issuer, `issuer ${md.issuer}`);
  for (const m of ['jwt', 'query.jwt', 'fragment.jwt', 'form_post.jwt']) {
    check(md.response_modes_supported?.includes(m), `${m} not in response_modes_supported`);
  }
  check(md.authorization_signing_alg_values_supported?.includes('RS256'), 'RS256 not in authorization_signing_alg_values_supported');
  check(md.authorization_signing_alg_values_supported?.includes(args['par-alg']),
    `${args['par-alg']} not in authorization_signing_alg_values_supported`);
  check(md.pushed_authorization_request_endpoint === `${issuer}/par`,
    `pushed_authorization_request_endpoint ${md.pushed_authorization_request_endpoint}`);
  const parMeta = { authorization_signed_response_alg: args['par-alg'] };
  parConfig = await configure(args['par-client-id'], args['par-client-secret'], parMeta, false);
  parJarmConfig = await configure(args['par-client-id'], args['par-client-secret'], parMeta, true);
});

await report.step('JARM (response_mode=jwt, useJwtResponseMode): code in a query response JWT, RS256', async () => {
  const flow = await authorize(async (params) => client.buildAuthorizationUrl(jarmConfig, params));
  check(flow.url.searchParams.get('response_mode') === 'jwt', `response_mode ${flow.url.searchParams.get('response_mode')}`);
  const jwt = checkResponseJwt(jarmConfig, flow, 'query', 'RS256');
  // The library checks the signature: the same JWT with one byte of its signature changed is refused …
  const [h, c, s] = jwt.split('.');
  const forged = new URL(flow.callback);
  forged.searchParams.set('response', `${h}.${c}.${s.slice(0, 10)}${s[10] === 'A' ? 'B' : 'A'}${s.slice(11)}`);
  const e = await refusedLocally(() => redeem(jarmConfig, flow, forged), 'a response JWT with a changed signature');
  check(/signature verification failed/.test(e.cause?.message ?? e.message), `the forgery was refused for another reason: ${e.message} (${e.cause?.message})`);
  // … and the real one is accepted.
  const [tokens, calls] = await watch('/token', () => redeem(jarmConfig, flow));
  check(calls.length === 1 && calls[0].body?.code === part(jwt, 1).code, `token request: ${JSON.stringify(calls)}`);
  await checkTokens(jarmConfig, tokens);
});

await report.step('JARM (response_mode=query.jwt): code in a query response JWT, RS256', async () => {
  // The library always asks for "jwt"; the explicit mode is set on the URL it built.
  const flow = await authorize(async (params) => {
    const url = client.buildAuthorizationUrl(jarmConfig, params);
    url.searchParams.set('response_mode', 'query.jwt');
    return url;
  });
  checkResponseJwt(jarmConfig, flow, 'query', 'RS256');
  await checkTokens(jarmConfig, await redeem(jarmConfig, flow));
});

await report.step('JARM (response_mode=fragment.jwt): the response JWT in the fragment', async () => {
  const flow = await authorize(async (params) => {
    const url = client.buildAuthorizationUrl(jarmConfig, params);
    url.searchParams.set('response_mode', 'fragment.jwt');
    return url;
  });
  check(!flow.callback.search, `fragment.jwt with a query: ${flow.callback.href}`);
  checkResponseJwt(jarmConfig, flow, 'fragment', 'RS256');
  // The library reads the parameters from a URL's query (a browser page would read
  // location.hash and hand them over the same way).
  const callback = new URL(flow.callback);
  callback.search = callback.hash.slice(1);
  callback.hash = '';
  await checkTokens(jarmConfig, await redeem(jarmConfig, flow, callback));
});

await report.step('JARM (response_mode=form_post.jwt): the response JWT posted to the redirect_uri', async () => {
  const flow = await authorize(async (params) => {
    const url = client.buildAuthorizationUrl(jarmConfig, params);
    url.searchParams.set('response_mode', 'form_post.jwt');
    return url;
  });
  check(flow.callback instanceof Request, `expected a form posting to ${redirectUri}, got a redirect to ${flow.callback.href}`);
  const fields = new URLSearchParams(await flow.callback.clone().text());
  check([...fields.keys()].join() === 'response', `the form posts more than response=: ${fields}`);
  const claims = part(fields.get('response'), 1);
  check(claims.iss === issuer && claims.code && claims.state === flow.state, `response JWT claims ${JSON.stringify(claims)}`);
  await checkTokens(jarmConfig, await redeem(jarmConfig, flow));
});

await report.step('JARM error response: consent denied, access_denied inside the response JWT', async () => {
  const flow = await authorize(async (params) => client.buildAuthorizationUrl(jarmConfig, params), 'deny');
  const jwt = flow.callback.searchParams.get('response');
  check(jwt && [...flow.callback.searchParams.keys()].join() === 'response', `the callback should carry only response=: ${flow.callback.href}`);
  const claims = part(jwt, 1);
  check(claims.error === 'access_denied' && claims.state === flow.state && !claims.code, `response JWT claims ${JSON.stringify(claims)}`);
  // The library verifies the JWT, then reports the error it carries; no token request.
  const e = await refusedLocally(() => redeem(jarmConfig, flow), 'a denied authorization');
  check(e instanceof client.AuthorizationResponseError && e.error === 'access_denied', `the library reported ${e?.name}: ${e?.message}`);
});

await report.step('PAR at a --require-par client: the unpushed request refused', async () => {
  const url = client.buildAuthorizationUrl(parConfig, {
    redirect_uri: redirectUri,
    scope: 'openid',
    code_challenge: await client.calculatePKCECodeChallenge(client.randomPKCECodeVerifier()),
    code_challenge_method: 'S256',
    state: client.randomState(),
  });
  const r = await b.follow(url.href, { stopAt: redirectUri });
  const cb = r.stoppedAt ? new URL(r.stoppedAt) : undefined;
  // Back to the client with the error (the request itself names a registered redirect_uri).
  check(cb?.searchParams.get('error') === 'invalid_request' && cb.searchParams.get('state') === url.searchParams.get('state'),
    `an unpushed request at a --require-par client: ${r.status} ${r.url} ${r.stoppedAt ?? ''}`);
});

/** The authorization endpoint refused `url` (an error back at the redirect_uri, or a 4xx page). */
async function refusedAtAuthorize(url, what) {
  const r = await b.follow(url.href, { stopAt: redirectUri });
  const cb = r.stoppedAt ? new URL(r.stoppedAt) : undefined;
  check(cb ? cb.searchParams.get('error') && !cb.searchParams.get('code') : r.status >= 400 && r.status < 500,
    `${what} was accepted: ${r.status} ${r.url} ${r.stoppedAt ?? ''}`);
}

await report.step('PAR (buildAuthorizationUrlWithPAR) at a --require-par client', async () => {
  // A request_uri is bound to the client that pushed it: another client cannot use it.
  const stolen = await client.buildAuthorizationUrlWithPAR(parConfig, {
    redirect_uri: redirectUri,
    scope: 'openid',
    code_challenge: await client.calculatePKCECodeChallenge(client.randomPKCECodeVerifier()),
    code_challenge_method: 'S256',
    state: client.randomState(),
  });
  stolen.searchParams.set('client_id', args['client-id']);
  await refusedAtAuthorize(stolen, "a request_uri with another client's client_id");
  const [flow, calls] = await watch('/par', () =>
    authorize(async (params) => client.buildAuthorizationUrlWithPAR(parConfig, params)));
  check(calls.length === 1 && calls[0].method === 'POST' && calls[0].status === 201, `PAR requests: ${JSON.stringify(calls)}`);
  check(calls[0].body?.state === flow.state && calls[0].body?.code_challenge, `PAR body: ${JSON.stringify(calls[0].body)}`);
  const sent = [...flow.url.searchParams.keys()].sort().join();
  check(sent === 'client_id,request_uri', `the browser was sent with ${sent}`);
  check(flow.url.searchParams.get('request_uri').startsWith('urn:ietf:params:oauth:request_uri:'),
    `request_uri ${flow.url.searchParams.get('request_uri')}`);
  check(flow.callback.searchParams.get('code') && flow.callback.searchParams.get('state') === flow.state,
    `plain callback expected: ${flow.callback.href}`);
  check(flow.callback.searchParams.get('iss') === issuer, `callback iss ${flow.callback.searchParams.get('iss')}`);
  await checkTokens(parConfig, await redeem(parConfig, flow));
  // The request_uri is single-use.
  await refusedAtAuthorize(flow.url, 'a used request_uri');
});

await report.step(`PAR + JARM at a --require-par client: the pushed response_mode=jwt, ${args['par-alg']}`, async () => {
  const [flow, calls] = await watch('/par', () =>
    authorize(async (params) => client.buildAuthorizationUrlWithPAR(parJarmConfig, params)));
  check(calls.length === 1 && calls[0].status === 201, `PAR requests: ${JSON.stringify(calls)}`);
  check(calls[0].body?.response_mode === 'jwt', `the pushed response_mode: ${calls[0].body?.response_mode}`);
  check([...flow.url.searchParams.keys()].sort().join() === 'client_id,request_uri', `browser URL ${flow.url.href}`);
  checkResponseJwt(parJarmConfig, flow, 'query', args['par-alg']);
  await checkTokens(parJarmConfig, await redeem(parJarmConfig, flow));
});

if (!report.ok) console.error(`--- requests ---\n${b.dump()}\n--- library requests ---\n${JSON.stringify(wire, null, 1)}`);
process.exit(report.ok ? 0 : 1);
