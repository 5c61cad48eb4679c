// panva's oidc-provider (npm, pinned in interop/package.json) as the reference OP for the
// conformance runner: the same modules run against it, so the runner itself is checked
// (a module the reference fails is a runner bug until shown otherwise).
//
//   node conformance/reference-op.mjs --port 4300 --rp https://rp.conformance.test --clients-out FILE
//
// Static clients like the ones run.sh adds to Sesame (per response type: client_secret_basic,
// client_secret_post, a second client; oidc-provider 9 has no unsigned request objects), written to
// --clients-out as JSON; registration open; the claims parameter and request objects on;
// PKCE optional (the Basic plan sends none); one account whose claims cover every standard
// scope; devInteractions (the library's own login and consent pages). Listens on 127.0.0.1
// and prints "oidc-provider@VERSION ready on http://127.0.0.1:PORT".

import { generateKeyPairSync, randomBytes } from 'node:crypto';
import { readFileSync, writeFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import { parseArgs } from 'node:util';

const require = createRequire(new URL('../interop/package.json', import.meta.url));
const { default: Provider } = await import(require.resolve('oidc-provider'));
const version = JSON.parse(readFileSync(require.resolve('oidc-provider/package.json'), 'utf8')).version;

const { values: args } = parseArgs({
  options: {
    port: { type: 'string' }, rp: { type: 'string' }, 'clients-out': { type: 'string' },
    'backchannel-base': { type: 'string' },
  },
});
for (const k of ['port', 'rp', 'clients-out']) {
  if (!args[k]) {
    console.error(`usage: node reference-op.mjs --port P --rp URL --clients-out FILE (missing --${k})`);
    process.exit(2);
  }
}
const issuer = `http://127.0.0.1:${args.port}`;
const SLUG = {
  code: 'code', id_token: 'idt', 'id_token token': 'idt-tok', 'code id_token': 'code-idt',
  'code token': 'code-tok', 'code id_token token': 'code-idt-tok',
};

const clients = [];
const out = {};
for (const [rt, slug] of Object.entries(SLUG)) {
  const types = rt.split(' ');
  const grants = [];
  if (types.includes('code')) grants.push('authorization_code', 'refresh_token');
  if (rt !== 'code') grants.push('implicit');
  const base = {
    redirect_uris: [`${args.rp}/cb/${slug}`], response_types: [rt], grant_types: grants,
    post_logout_redirect_uris: [`${args.rp}/post_logout_redirect/${slug}`],
  };
  const mk = (suffix, method, extra = {}) => {
    const c = {
      ...base, ...extra, client_id: `conformance-${slug}${suffix}`,
      client_secret: `secret-${randomBytes(16).toString('hex')}`, token_endpoint_auth_method: method,
    };
    clients.push(c);
    return { client_id: c.client_id, client_secret: c.client_secret, auth_method: method };
  };
  out[rt] = [
    mk('', 'client_secret_basic', args['backchannel-base']
      ? { backchannel_logout_uri: `${args['backchannel-base']}/bcl/${slug}`, backchannel_logout_session_required: true }
      : {}),
    mk('-post', 'client_secret_post'),
    mk('-2', 'client_secret_basic'),
  ];
}
writeFileSync(args['clients-out'], JSON.stringify(out));

const rsa = generateKeyPairSync('rsa', { modulusLength: 2048 }).privateKey.export({ format: 'jwk' });

const provider = new Provider(issuer, {
  clients,
  jwks: { keys: [{ ...rsa, use: 'sig', alg: 'RS256', kid: randomBytes(8).toString('hex') }] },
  responseTypes: ['code', 'id_token', 'id_token token', 'code id_token', 'code token', 'code id_token token'],
  async findAccount(ctx, id) {
    return {
      accountId: id,
      async claims() {
        return {
          sub: id, name: 'Conformance User', given_name: 'Conformance', family_name: 'User', locale: 'en',
          preferred_username: id, email: 'conformance@example.com', email_verified: true,
          address: { formatted: '1 Main Street, 111 22 Stockholm, Sweden', country: 'SE' },
          phone_number: '+46700000000', phone_number_verified: false,
        };
      },
    };
  },
  claims: {
    openid: ['sub'],
    profile: ['name', 'given_name', 'family_name', 'locale', 'preferred_username'],
    email: ['email', 'email_verified'],
    address: ['address'],
    phone: ['phone_number', 'phone_number_verified'],
  },
  features: {
    devInteractions: { enabled: true },
    claimsParameter: { enabled: true },
    requestObjects: { enabled: true, requireSignedRequestObject: false },
    registration: { enabled: true },
    revocation: { enabled: true },
    rpInitiatedLogout: { enabled: true },
    backchannelLogout: { enabled: true },
  },
  pkce: { required: () => false },
  subjectTypes: ['public', 'pairwise'],
  // Back-channel logout to the runner on 127.0.0.1: without the library's special-use IP guard
  // (what allow_private_outbound is to Sesame).
  fetch: (url, options) => globalThis.fetch(url, { ...options, dispatcher: undefined }),
  // OIDC Core 3.1.2.1: the authorization endpoint takes GET and POST (the library needs
  // SameSite=None cookies for POST; over plain http it does not mark them Secure).
  enableHttpPostMethods: true,
  cookies: {
    keys: [randomBytes(32).toString('hex')],
    long: { httpOnly: true, sameSite: 'none' },
    short: { httpOnly: true, sameSite: 'lax' },
  },
});
provider.on('server_error', (ctx, err) => console.error('oidc-provider server_error', err));
provider.on('backchannel.error', (ctx, err, client) => console.error('oidc-provider backchannel.error', client?.clientId, err.message, err.cause?.message ?? ''));

const server = provider.listen(Number(args.port), '127.0.0.1', () => {
  console.log(`oidc-provider@${version} ready on ${issuer}`);
});
const stop = () => {
  server.close(() => process.exit(0));
  server.closeAllConnections();
  setTimeout(() => process.exit(0), 2000).unref();
};
process.on('SIGTERM', stop);
process.on('SIGINT', stop);
