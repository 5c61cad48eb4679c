// Clicks through a login and an RP-initiated logout of the real `sesame app`
// against panva's oidc-provider (op.mjs), with a cookie-keeping client:
//
//   app /login -> oidc-provider dev login form -> consent form -> app /callback
//   -> app /me is 200 with the claims -> POST app /logout (csrf_token from "/")
//   -> oidc-provider end_session + its logout confirmation form -> back to the app
//   -> app /me is 401
//   (--jarm: then a second sign-in whose response JWT is handed to the app with a changed
//   signature, which the app refuses: 4xx and /me still 401)
//   (--fapi2 --key PEM: `sesame app --profile fapi2` at op.mjs's OP_FAPI2=1; two more steps:
//   the provider holds the client to the profile — a pushed request whose private_key_jwt
//   assertion names the token endpoint as `aud` is refused, the same one naming the issuer is
//   accepted — and the app refuses a callback whose `iss` was taken out: 4xx, /me still 401)
//
//   node drive-app.mjs --app http://127.0.0.1:4101 --op http://127.0.0.1:4100 --user alice

import { constants, createPrivateKey, randomUUID, sign } from 'node:crypto';
import { readFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import { parseArgs } from 'node:util';

import { Browser, check, parseForms } from './lib/browser.mjs';
import { reporter } from './lib/steps.mjs';

const { values: args } = parseArgs({
  options: {
    app: { type: 'string' },
    op: { type: 'string' },
    user: { type: 'string', default: 'interop-user' },
    'auth-method': { type: 'string' },
    // `sesame app --dpop`: the session's token must be DPoP-bound.
    dpop: { type: 'boolean', default: false },
    // `sesame app --par`: the browser carries only client_id and request_uri.
    par: { type: 'boolean', default: false },
    // `sesame app --jarm`: the callback carries only a response JWT.
    jarm: { type: 'boolean', default: false },
    // `sesame app --profile fapi2`, and its private key (for the provider's checks).
    fapi2: { type: 'boolean', default: false },
    key: { type: 'string' },
    'client-id': { type: 'string' },
  },
});
const require = createRequire(import.meta.url);
const version = JSON.parse(readFileSync(require.resolve('oidc-provider/package.json'), 'utf8')).version;
const app = args.app.replace(/\/+$/, '');
const op = args.op.replace(/\/+$/, '');
const b = new Browser();
/** The provider's login page after the logout (a new sign-in starts there). */
let last;

async function main() {
  // Not logged in yet.
  let r = await b.get(`${app}/me`);
  check(r.status === 401, `app /me before login: expected 401, got ${r.status}`);

  // app /login -> oidc-provider /auth -> /interaction/:uid (login form)
  r = await b.get(`${app}/login`);
  check(r.location?.startsWith(`${op}/auth?`), `app /login should redirect to ${op}/auth, got ${r.status} ${r.location}`);
  const auth = new URL(r.location);
  if (args.par) {
    // The provider requires PAR (op.mjs OP_PAR_JARM=1): the same request unpushed is refused.
    const plain = new URL(`${op}/auth`);
    for (const [k, v] of Object.entries({ client_id: auth.searchParams.get('client_id'), response_type: 'code',
      scope: 'openid', redirect_uri: `${app}/callback`, state: 'x', nonce: 'x',
      code_challenge: 'E9Melhoa2OwvFrEMTJguCHaoeK1t8URWbuGJSstw-cM', code_challenge_method: 'S256' })) {
      plain.searchParams.set(k, v);
    }
    const refused = await b.get(plain.href);
    const to = refused.location ? new URL(refused.location) : undefined;
    check((to && to.searchParams.get('error') === 'invalid_request') || refused.status === 400,
      `the provider accepted an unpushed request: ${refused.status} ${refused.location ?? ''}`);
    // The request was pushed (the provider requires it): the rest is behind request_uri.
    const sent = [...auth.searchParams.keys()].sort().join();
    check(sent === 'client_id,request_uri', `a pushed request should send client_id and request_uri only, sent ${sent}`);
    check(auth.searchParams.get('request_uri').startsWith('urn:ietf:params:oauth:request_uri:'), `request_uri ${auth.searchParams.get('request_uri')}`);
  } else {
    for (const p of ['code_challenge', 'state', 'nonce']) {
      check(auth.searchParams.get(p), `authorization request without ${p}: ${r.location}`);
    }
    check(auth.searchParams.get('code_challenge_method') === 'S256', 'PKCE method is not S256');
    if (args.jarm) check(auth.searchParams.get('response_mode') === 'jwt', `response_mode ${auth.searchParams.get('response_mode')}`);
  }
  r = await b.follow(r.location);
  check(r.status === 200, `oidc-provider login page: ${r.status}\n${r.text.slice(0, 1000)}`);
  check(/name="login"/.test(r.text), `not the dev login form:\n${r.text.slice(0, 1000)}`);

  // Login form (prompt=login): any login name, any password.
  r = await b.submit(r, {
    pick: (f) => f.fields.prompt === 'login',
    values: { login: args.user, password: 'any-password' },
  });
  check(r.status === 200 && parseForms(r.text, r.url).some((f) => f.fields.prompt === 'consent'),
    `expected the consent form after login, got ${r.status}\n${r.text.slice(0, 1000)}`);

  // Consent form (prompt=consent) -> /auth/:uid -> app /callback -> app /
  r = await b.submit(r, { pick: (f) => f.fields.prompt === 'consent' });
  check(r.status === 200, `after consent and callback: ${r.status} at ${r.url}\n${r.text.slice(0, 1000)}`);
  check(new URL(r.url).origin === new URL(app).origin, `flow did not end at the app: ${r.url}`);
  check(!/error/i.test(new URL(r.url).search), `the app reported an error: ${r.url}`);
  if (args.jarm) {
    // The provider's redirect to the app's callback: a response JWT (ES256, from op.mjs's
    // OP_PAR_JARM clients) in the query, and nothing else.
    const hop = b.trace.map((t) => t.split(' ')[1]).find((u) => u.startsWith(`${app}/callback`));
    check(hop, `no request to ${app}/callback in:\n${b.dump()}`);
    const cb = new URL(hop);
    check([...cb.searchParams.keys()].join() === 'response', `the callback should carry only response=: ${hop}`);
    const jwt = cb.searchParams.get('response').split('.');
    const header = JSON.parse(Buffer.from(jwt[0], 'base64url').toString('utf8'));
    const claims = JSON.parse(Buffer.from(jwt[1], 'base64url').toString('utf8'));
    check(header.alg === 'ES256', `response JWT alg ${header.alg}`);
    check(claims.iss === op && claims.code && claims.state, `response JWT claims ${JSON.stringify(claims)}`);
  }

  // The session's claims.
  r = await b.get(`${app}/me`);
  check(r.status === 200, `app /me after login: ${r.status} ${r.text}`);
  const me = JSON.parse(r.text);
  check(me.iss === op, `iss ${me.iss} != ${op}`);
  check(me.sub === args.user, `sub ${me.sub} != ${args.user}`);
  check(me.claims?.email === `${args.user}@interop.example`, `email claim missing: ${r.text}`);
  check(me.claims?.name === `Interop ${args.user}`, `name claim missing: ${r.text}`);
  check(me.dpop === args.dpop, `the session's token is ${me.dpop ? '' : 'not '}DPoP-bound: ${r.text}`);

  // Logout: the CSRF token from the app's home page.
  r = await b.get(`${app}/`);
  const home = parseForms(r.text, r.url).find((f) => new URL(f.action).pathname === '/logout');
  check(home?.fields.csrf_token, `no logout form with csrf_token on the app's home page:\n${r.text.slice(0, 1000)}`);
  r = await b.post(`${app}/logout`, { csrf_token: home.fields.csrf_token });
  check(r.location?.startsWith(`${op}/session/end?`), `app /logout should redirect to ${op}/session/end, got ${r.status} ${r.location}`);
  const end = new URL(r.location);
  check(end.searchParams.get('id_token_hint') || end.searchParams.get('client_id'), 'end_session without id_token_hint or client_id');
  check(end.searchParams.get('post_logout_redirect_uri') === `${app}/`, `post_logout_redirect_uri ${end.searchParams.get('post_logout_redirect_uri')}`);

  // oidc-provider's confirmation page: <form id="op.logoutForm"> + button logout=yes.
  r = await b.follow(r.location);
  check(r.status === 200, `end_session page: ${r.status}\n${r.text.slice(0, 1000)}`);
  r = await b.submit(r, { pick: (f) => 'xsrf' in f.fields, button: 'logout' });
  check(new URL(r.url).origin === new URL(app).origin, `logout did not return to the app: ${r.url} (${r.status})`);
  check(r.status === 200, `app after logout: ${r.status}`);

  r = await b.get(`${app}/me`);
  check(r.status === 401, `app /me after logout: expected 401, got ${r.status} ${r.text}`);

  // Logged out at oidc-provider too: a new login shows the login form again.
  r = await b.get(`${app}/login`);
  r = await b.follow(r.location);
  check(/name="login"/.test(r.text), 'oidc-provider session survived the logout');
  last = r;

  if (args.jarm) {
    // Sign in again, but hand the app the provider's response JWT with one byte of its
    // signature changed: the app refuses it (4xx) and nobody is signed in.
    r = await b.submit(r, { pick: (f) => f.fields.prompt === 'login', values: { login: args.user, password: 'any-password' } });
    r = await b.submit(r, { pick: (f) => f.fields.prompt === 'consent', stopAt: `${app}/callback` });
    check(r.stoppedAt, `the provider did not redirect to the app's callback: ${r.status} ${r.url}`);
    const forged = new URL(r.stoppedAt);
    const [h, c, sig] = forged.searchParams.get('response').split('.');
    forged.searchParams.set('response', `${h}.${c}.${sig.slice(0, 10)}${sig[10] === 'A' ? 'B' : 'A'}${sig.slice(11)}`);
    r = await b.get(forged.href);
    check(r.status >= 400 && r.status < 500, `the app took a response JWT with a changed signature: ${r.status} ${r.location ?? ''}`);
    r = await b.get(`${app}/me`);
    check(r.status === 401, `app /me after a forged response JWT: expected 401, got ${r.status} ${r.text}`);
  }
}

/** A JWT signed with the PKCS#8 PEM key `pem`: ES256 (P-256), PS256 (RSA) or EdDSA (Ed25519). */
function signJwt(pem, claims) {
  const key = createPrivateKey(pem);
  const alg = { ec: 'ES256', rsa: 'PS256', ed25519: 'EdDSA' }[key.asymmetricKeyType];
  check(alg, `--key: a ${key.asymmetricKeyType} key`);
  const b64 = (v) => Buffer.from(JSON.stringify(v)).toString('base64url');
  const input = `${b64({ alg, typ: 'JWT' })}.${b64(claims)}`;
  const opts = {
    ES256: { key, dsaEncoding: 'ieee-p1363' },
    PS256: { key, padding: constants.RSA_PKCS1_PSS_PADDING, saltLength: 32 },
    EdDSA: key,
  }[alg];
  const sig = sign(alg === 'EdDSA' ? null : 'sha256', Buffer.from(input), opts);
  return `${input}.${sig.toString('base64url')}`;
}

/** The provider's FAPI 2.0 rule on client assertions (aud = the issuer), seen at its PAR endpoint. */
async function assertionAudience() {
  const md = JSON.parse((await b.get(`${op}/.well-known/openid-configuration`)).text);
  check(md.require_pushed_authorization_requests === true, 'the provider does not require PAR');
  check(JSON.stringify(md.token_endpoint_auth_methods_supported) === '["private_key_jwt"]',
    `token_endpoint_auth_methods_supported ${md.token_endpoint_auth_methods_supported}`);
  const pem = readFileSync(args.key, 'utf8');
  const clientId = args['client-id'];
  check(clientId, '--fapi2 needs --client-id');
  const push = (aud) => {
    const now = Math.floor(Date.now() / 1000);
    const assertion = signJwt(pem, { iss: clientId, sub: clientId, aud, jti: randomUUID(), iat: now, nbf: now, exp: now + 60 });
    return b.post(md.pushed_authorization_request_endpoint, {
      client_id: clientId,
      client_assertion_type: 'urn:ietf:params:oauth:client-assertion-type:jwt-bearer',
      client_assertion: assertion,
      response_type: 'code',
      scope: 'openid',
      redirect_uri: `${app}/callback`,
      code_challenge: 'E9Melhoa2OwvFrEMTJguCHaoeK1t8URWbuGJSstw-cM',
      code_challenge_method: 'S256',
    });
  };
  let r = await push(md.token_endpoint);
  check(r.status === 401 && JSON.parse(r.text).error === 'invalid_client',
    `an assertion with aud = the token endpoint was not refused: ${r.status} ${r.text}`);
  r = await push(op);
  check(r.status === 201 && JSON.parse(r.text).request_uri, `an assertion with aud = the issuer: ${r.status} ${r.text}`);
}

/** A sign-in whose callback lost its `iss` (RFC 9207): the app under the profile refuses it. */
async function callbackWithoutIss() {
  let r = await b.submit(last, { pick: (f) => f.fields.prompt === 'login', values: { login: args.user, password: 'any-password' } });
  r = await b.submit(r, { pick: (f) => f.fields.prompt === 'consent', stopAt: `${app}/callback` });
  check(r.stoppedAt, `the provider did not redirect to the app's callback: ${r.status} ${r.url}`);
  const cb = new URL(r.stoppedAt);
  check(cb.searchParams.get('iss') === op && cb.searchParams.get('code'), `the provider's callback: ${cb}`);
  cb.searchParams.delete('iss');
  r = await b.get(cb.href);
  check(r.status >= 400 && r.status < 500, `the app took a callback without iss: ${r.status} ${r.location ?? ''}`);
  r = await b.get(`${app}/me`);
  check(r.status === 401, `app /me after a callback without iss: expected 401, got ${r.status} ${r.text}`);
}

const report = reporter(`oidc-provider@${version}`);
const extras = [args.fapi2 && 'FAPI 2.0', args.dpop && 'DPoP', args.par && 'PAR', args.jarm && 'JARM'].filter(Boolean);
const dumped = (fn) => async () => {
  try {
    await fn();
  } catch (e) {
    console.error(`--- requests ---\n${b.dump()}`);
    throw e;
  }
};
await report.step(`sesame app login+logout (${[args['auth-method'], ...extras].join(', ')})`, dumped(main));
if (args.fapi2) {
  await report.step(`FAPI 2.0 profile in force: a client assertion with aud = token endpoint refused at PAR, aud = issuer accepted (${args['auth-method']})`,
    dumped(assertionAudience));
  await report.step(`sesame app --profile fapi2 refuses a callback without iss (${args['auth-method']})`, dumped(callbackWithoutIss));
}
process.exit(report.ok ? 0 : 1);
