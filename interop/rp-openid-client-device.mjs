// panva's openid-client (npm) with the device authorization grant (RFC 8628) at `sesame serve`:
// initiateDeviceAuthorization, then pollDeviceAuthorizationGrant, which waits `interval` between
// polls and follows authorization_pending / slow_down itself, while a cookie-keeping "browser"
// opens the verification page, signs in and answers the consent page. Three flows at once (the
// library's first poll comes only after `interval`, 5 s, so they share that wait; the user
// answers within it, so a poll answered authorization_pending is rare here — the Rust tests
// cover it):
//
//   public:       verification_uri_complete (the code form comes filled in), login, allow;
//                 tokens, the ID token (signature checked: enableNonRepudiationChecks),
//                 UserInfo, refresh;
//   confidential: client_secret_basic; the plain verification_uri, the user_code typed into its
//                 form field `user_code` (lower case, without the dash); tokens, ID token, UserInfo;
//   denied:       the public client again, the user denies: the library reports access_denied.
//
// Every poll before the tokens must be authorization_pending, none slow_down (the library kept
// to the server's interval). Every request
// the library sends is recorded (customFetch), so the checks are on what went over the wire.
//
//   node rp-openid-client-device.mjs --issuer http://127.0.0.1:4200 --public-client-id ID \
//     --client-id ID --client-secret S --username alice --password '…'

import { readFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import { parseArgs } from 'node:util';

import * as client from 'openid-client';

import { Browser, check, parseForms } from './lib/browser.mjs';
import { reporter } from './lib/steps.mjs';

const { values: args } = parseArgs({
  options: {
    issuer: { type: 'string' },
    'public-client-id': { type: 'string' },
    'client-id': { type: 'string' },
    'client-secret': { type: 'string' },
    username: { type: 'string' },
    password: { type: 'string' },
  },
});

const require = createRequire(import.meta.url);
const version = JSON.parse(readFileSync(require.resolve('openid-client/package.json'), 'utf8')).version;
const issuer = args.issuer.replace(/\/+$/, '');
const peer = `openid-client@${version}`;
const DEVICE_GRANT = 'urn:ietf:params:oauth:grant-type:device_code';

/** Every token request the library made: its device_code, the answer's status and error. */
const polls = [];
async function recordingFetch(url, options) {
  const r = await fetch(url, options);
  const form = typeof options?.body === 'string' || options?.body instanceof URLSearchParams
    ? new URLSearchParams(options.body) : undefined;
  if (new URL(url).pathname === '/token' && form?.get('grant_type') === DEVICE_GRANT) {
    let error;
    if (r.status >= 400) {
      try {
        error = JSON.parse(await r.clone().text()).error;
      } catch {
        error = undefined;
      }
    }
    polls.push({ device_code: form.get('device_code'), status: r.status, error });
  }
  return r;
}
const pollsOf = (response) => polls.filter((p) => p.device_code === response.device_code);

async function configure(id, auth) {
  const config = await client.discovery(new URL(issuer), id, undefined, auth, {
    execute: [client.allowInsecureRequests],
  });
  config[client.customFetch] = recordingFetch;
  // The ID token's signature is checked too (against the provider's JWKS).
  client.enableNonRepudiationChecks(config);
  return config;
}

/** Signs in on Sesame's login page if it is shown; returns the next page. */
async function login(b, r) {
  if (new URL(r.url).pathname !== '/login') return r;
  return b.submit(r, {
    pick: (f) => 'username' in f.fields && 'password' in f.fields && 'csrf_token' in f.fields,
    values: { username: args.username, password: args.password },
  });
}

/**
 * The user's side: the code form at `page` (filled in with `typed` when given), login, then the
 * consent page (which shows the device's code), answered with `button`.
 */
async function answer(b, page, { userCode, typed, button }) {
  let r = await b.follow(page);
  check(r.status === 200, `verification page: ${r.status} at ${r.url}\n${r.text.slice(0, 800)}`);
  const form = parseForms(r.text, r.url).find((f) => 'user_code' in f.fields && 'csrf_token' in f.fields);
  check(form, `no code form with user_code and csrf_token at ${page}:\n${r.text.slice(0, 800)}`);
  if (typed === undefined) {
    check(form.fields.user_code === userCode, `verification_uri_complete did not fill in the code: ${JSON.stringify(form.fields)}`);
  }
  r = await b.submit(r, { pick: (f) => 'user_code' in f.fields, values: typed === undefined ? {} : { user_code: typed } });
  r = await login(b, r);
  check(r.status === 200, `expected the device consent page, got ${r.status} at ${r.url}\n${r.text.slice(0, 800)}`);
  check(r.text.includes(userCode), `the consent page does not show the code ${userCode}:\n${r.text.slice(0, 800)}`);
  r = await b.submit(r, { pick: (f) => 'interaction' in f.fields, button });
  check(r.status === 200, `after ${button}: ${r.status} at ${r.url}`);
  const done = button === 'allow' ? 'You may return to your device' : 'Access denied';
  check(r.text.includes(done), `expected "${done}":\n${r.text.slice(0, 800)}`);
}

/**
 * The library's polls of `response`: `authorization_pending` until the user allowed (none when
 * the user was quicker than the interval), then 200; never `slow_down` (it kept to `interval`).
 */
function checkPolls(response) {
  const seen = pollsOf(response);
  check(seen.length > 0 && seen.at(-1).status === 200, `the library's polls: ${JSON.stringify(seen)}`);
  check(seen.slice(0, -1).every((p) => p.error === 'authorization_pending'), `the library's polls: ${JSON.stringify(seen)}`);
}

async function checkTokens(config, clientId, tokens) {
  check(tokens.token_type?.toLowerCase() === 'bearer', `token_type ${tokens.token_type}`);
  check(tokens.id_token, 'no ID token');
  const claims = tokens.claims();
  check(claims.iss === issuer, `ID token iss ${claims.iss}`);
  check(claims.aud === clientId || (Array.isArray(claims.aud) && claims.aud.includes(clientId)), `ID token aud ${claims.aud}`);
  const info = await client.fetchUserInfo(config, tokens.access_token, claims.sub);
  check(info.sub === claims.sub, 'userinfo sub');
  check(info.preferred_username === args.username, `userinfo preferred_username ${info.preferred_username}`);
  check(info.email === `${args.username}@example.com`, `userinfo email ${info.email}`);
  return claims;
}

/** The library's polling, given up after 40 s (the code itself lives 600 s). */
const poll = (config, response) =>
  client.pollDeviceAuthorizationGrant(config, response, undefined, { signal: AbortSignal.timeout(40_000) });

/** Runs `fn`; its result or error, for reporting later. */
const settle = (fn) => fn().then((value) => ({ value }), (error) => ({ error }));

const SCOPE = 'openid profile email offline_access';

async function publicFlow() {
  const b = new Browser();
  const config = await configure(args['public-client-id'], client.None());
  const md = config.serverMetadata();
  check(md.device_authorization_endpoint === `${issuer}/device_authorization`, `device_authorization_endpoint ${md.device_authorization_endpoint}`);
  check(md.grant_types_supported?.includes(DEVICE_GRANT), 'the device grant is not in grant_types_supported');
  const response = await client.initiateDeviceAuthorization(config, { scope: SCOPE });
  check(response.verification_uri === `${issuer}/device`, `verification_uri ${response.verification_uri}`);
  check(response.verification_uri_complete && response.interval > 0 && response.expires_in > 0, JSON.stringify(response));
  const [tokens] = await Promise.all([
    poll(config, response),
    answer(b, response.verification_uri_complete, { userCode: response.user_code, button: 'allow' }),
  ]);
  checkPolls(response);
  await checkTokens(config, args['public-client-id'], tokens);
  check(tokens.refresh_token, `no refresh token (scope ${tokens.scope})`);
  const refreshed = await client.refreshTokenGrant(config, tokens.refresh_token);
  await client.fetchUserInfo(config, refreshed.access_token, tokens.claims().sub);
}

async function confidentialFlow() {
  const b = new Browser();
  const id = args['client-id'];
  const config = await configure(id, client.ClientSecretBasic(args['client-secret']));
  const response = await client.initiateDeviceAuthorization(config, { scope: SCOPE });
  // The user types the code: lower case, without the dash.
  const typed = response.user_code.replace('-', '').toLowerCase();
  const [tokens] = await Promise.all([
    poll(config, response),
    answer(b, response.verification_uri, { userCode: response.user_code, typed, button: 'allow' }),
  ]);
  checkPolls(response);
  await checkTokens(config, id, tokens);
}

async function deniedFlow() {
  const b = new Browser();
  const config = await configure(args['public-client-id'], client.None());
  const response = await client.initiateDeviceAuthorization(config, { scope: 'openid' });
  const [polled] = await Promise.all([
    settle(() => poll(config, response)),
    answer(b, response.verification_uri_complete, { userCode: response.user_code, button: 'deny' }),
  ]);
  check(polled.error, 'a denied device request got tokens');
  check(polled.error instanceof client.ResponseBodyError && polled.error.error === 'access_denied',
    `the library reported ${polled.error?.error ?? polled.error}, not access_denied`);
}

const flows = {
  'device flow, public client: verification_uri_complete, login, consent, the library polls to the tokens; ID token, UserInfo, refresh':
    settle(publicFlow),
  'device flow, confidential client (client_secret_basic): the user_code typed at /device; ID token, UserInfo':
    settle(confidentialFlow),
  'device flow, consent denied: the library reports access_denied': settle(deniedFlow),
};
let ok = true;
for (const [name, pending] of Object.entries(flows)) {
  const report = reporter(peer);
  await report.step(name, async () => {
    const { error } = await pending;
    if (error) throw error;
  });
  ok &&= report.ok;
}
if (!ok) console.error(`--- token polls ---\n${JSON.stringify(polls, null, 1)}`);
process.exit(ok ? 0 : 1);
