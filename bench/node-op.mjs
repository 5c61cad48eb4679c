// panva's oidc-provider as a benchmark peer for bench/compare.sh.
//
// In-memory adapter (the library's default), RS256 ID tokens from a 2048-bit key made at start,
// the library's development login form (any username is accepted), and consent granted
// automatically for the one first-party client (the library's documented `loadExistingGrant`
// recipe), which is what `sesame clients add --skip-consent` does.
//
// Environment: BENCH_PORT, BENCH_ISSUER, BENCH_CLIENT_ID, BENCH_CLIENT_SECRET, BENCH_REDIRECT_URI;
// BENCH_DPOP=1 turns on `features.dPoP` (RFC 9449, no server nonces) and binds the client's access
// tokens (`dpop_bound_access_tokens`), as `sesame clients add --dpop` does.
import { generateKeyPairSync, randomBytes } from 'node:crypto';

import Provider from 'oidc-provider';

const env = (name, fallback) => process.env[name] ?? fallback;
const dpop = env('BENCH_DPOP', '0') === '1';
const port = Number(env('BENCH_PORT', '3000'));
const issuer = env('BENCH_ISSUER', `http://127.0.0.1:${port}`);

const { privateKey } = generateKeyPairSync('rsa', { modulusLength: 2048 });
const jwk = { ...privateKey.export({ format: 'jwk' }), alg: 'RS256', use: 'sig', kid: 'bench-rs256' };

const configuration = {
  clients: [{
    client_id: env('BENCH_CLIENT_ID', 'bench'),
    client_secret: env('BENCH_CLIENT_SECRET', 'bench-secret'),
    redirect_uris: [env('BENCH_REDIRECT_URI', 'http://127.0.0.1:9/callback')],
    grant_types: ['authorization_code', 'client_credentials'],
    response_types: ['code'],
    token_endpoint_auth_method: 'client_secret_basic',
    id_token_signed_response_alg: 'RS256',
    ...(dpop ? { dpop_bound_access_tokens: true } : {}),
  }],
  jwks: { keys: [jwk] },
  cookies: { keys: [randomBytes(32).toString('base64url')] },
  claims: {
    openid: ['sub'],
    email: ['email', 'email_verified'],
    profile: ['name', 'preferred_username'],
  },
  features: {
    devInteractions: { enabled: true },
    introspection: { enabled: true },
    clientCredentials: { enabled: true },
    dPoP: { enabled: dpop },
  },
  async findAccount(ctx, id) {
    return {
      accountId: id,
      async claims() {
        return {
          sub: id, name: 'Bench User', preferred_username: id, email: `${id}@example.com`, email_verified: true,
        };
      },
    };
  },
  async loadExistingGrant(ctx) {
    const grantId = ctx.oidc.result?.consent?.grantId
      || ctx.oidc.session.grantIdFor(ctx.oidc.client.clientId);
    if (grantId) {
      return ctx.oidc.provider.Grant.find(grantId);
    }
    // A first-party client: grant what it asks for without a consent page.
    const grant = new ctx.oidc.provider.Grant({
      clientId: ctx.oidc.client.clientId,
      accountId: ctx.oidc.session.accountId,
    });
    grant.addOIDCScope('openid email profile');
    await grant.save();
    return grant;
  },
};

const provider = new Provider(issuer, configuration);
provider.on('server_error', (ctx, err) => console.error('server_error', err));
provider.listen(port, '127.0.0.1', () => {
  console.log(`oidc-provider ${issuer} listening on 127.0.0.1:${port}`);
});
