// A real OpenID Connect provider (node-oidc-provider 8.8, which supports Node 18 and later; 9.x wants Node 22) on loopback, for the single sign-on tests.
//
//   node provider.mjs ACCOUNTS_JSON CLIENT_ID CLIENT_SECRET
//
// It listens on a free port of 127.0.0.1 and prints its issuer (http://127.0.0.1:PORT) as its
// first line. One static confidential client, whose redirect URI may be any
// http://127.0.0.1:<port>/login/oidc/callback (each test's web app has a port of its own;
// a real provider registers the one address exactly). The accounts are read
// from ACCOUNTS_JSON on every look-up ({"<login>": {"email": ..., "groups": [...]}}), so a test
// can change an account's groups between two log-ins, as an administrator would at the provider.
// The login form is the provider's own development interaction (any password is accepted for
// a login that exists in the file); consent is granted at once for the one first-party client.
// The groups claim is released with the openid scope, in the ID token, as Entra ID does once
// "groups" is added to the token configuration.
import { readFileSync } from 'node:fs';
import { createServer } from 'node:http';

import Provider from 'oidc-provider';

const [accountsFile, clientId, clientSecret] = process.argv.slice(2);
const CALLBACK = /^http:\/\/127\.0\.0\.1:\d+\/login\/oidc\/callback$/;

function accounts() {
  return JSON.parse(readFileSync(accountsFile, 'utf8'));
}

function configuration() {
  return {
    clients: [
      {
        client_id: clientId,
        client_secret: clientSecret,
        redirect_uris: ['http://127.0.0.1/login/oidc/callback'],
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
  };
}

const server = createServer();
server.listen(0, '127.0.0.1', () => {
  const issuer = `http://127.0.0.1:${server.address().port}`;
  const provider = new Provider(issuer, configuration());
  provider.Client.prototype.redirectUriAllowed = (uri) => CALLBACK.test(uri);
  server.on('request', provider.callback());
  console.log(issuer);
});
