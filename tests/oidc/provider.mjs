// A real OpenID Connect provider (node-oidc-provider 8.8, which supports Node 18 and later; 9.x wants Node 22) on loopback, for the single sign-on tests.
//
//   node provider.mjs PORT ACCOUNTS_JSON CLIENT_ID CLIENT_SECRET REDIRECT_URI
//
// The issuer is http://127.0.0.1:PORT. One static confidential client. The accounts are read
// from ACCOUNTS_JSON on every look-up ({"<login>": {"email": ..., "groups": [...]}}), so a test
// can change an account's groups between two log-ins, as an administrator would at the provider.
// The login form is the provider's own development interaction (any password is accepted for
// a login that exists in the file); consent is granted at once for the one first-party client.
// The groups claim is released with the openid scope, in the ID token, as Entra ID does once
// "groups" is added to the token configuration.
import { readFileSync } from 'node:fs';

import Provider from 'oidc-provider';

const [port, accountsFile, clientId, clientSecret, redirectUri] = process.argv.slice(2);
const issuer = `http://127.0.0.1:${port}`;

function accounts() {
  return JSON.parse(readFileSync(accountsFile, 'utf8'));
}

const provider = new Provider(issuer, {
  clients: [
    {
      client_id: clientId,
      client_secret: clientSecret,
      redirect_uris: [redirectUri],
      response_types: ['code'],
      grant_types: ['authorization_code'],
      token_endpoint_auth_method: 'client_secret_basic',
    },
  ],
  pkce: { required: () => true },
  conformIdTokenClaims: false,
  claims: {
    openid: ['sub', 'groups'],
    email: ['email', 'email_verified'],
    profile: ['name', 'preferred_username'],
  },
  features: { devInteractions: { enabled: true } },
  cookies: { keys: ['svarfrist-test-provider-cookie-key'] },
  async findAccount(ctx, id) {
    const account = accounts()[id];
    if (!account) return undefined;
    return {
      accountId: id,
      async claims() {
        return { sub: id, ...account };
      },
    };
  },
  async loadExistingGrant(ctx) {
    const grantId = ctx.oidc.result?.consent?.grantId
      || ctx.oidc.session.grantIdFor(ctx.oidc.client.clientId);
    if (grantId) return ctx.oidc.provider.Grant.find(grantId);
    const grant = new ctx.oidc.provider.Grant({
      clientId: ctx.oidc.client.clientId,
      accountId: ctx.oidc.session.accountId,
    });
    grant.addOIDCScope('openid email profile');
    await grant.save();
    return grant;
  },
});

provider.listen(Number(port), '127.0.0.1', () => {
  console.log(`oidc-provider listening on ${issuer}`);
});
