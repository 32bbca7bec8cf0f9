// The node client of the discovery tests (tests/discovery.rs): openid-client's discovery of an
// issuer served by `jwksmith serve` (loopback http, hence allowInsecureRequests), then jose's
// verification of tokens against the discovered jwks_uri.
//
//   node discovery.mjs ISSUER AUDIENCE TOKEN...
//
// Prints {"issuer", "jwks_uri", "algs", "tokens": ["valid" | "rejected: <why>", ...]}; a failed
// discovery prints {"error"} and exits 1.
//
//   node discovery.mjs --client-credentials ISSUER AUDIENCE CLIENT_ID CLIENT_SECRET
//
// The flow of an app against `serve --local-issuer`: discovery, then clientCredentialsGrant once
// with client_secret_basic and once with client_secret_post, each token verified by jose at the
// discovered jwks_uri; then a token for another audience, which must fail. Prints {"issuer",
// "token_endpoint", "tokens": {method: {"verified", "claims", "expires_in"}}, "rejected"}.
import * as client from 'openid-client';
import * as jose from 'jose';

/** openid-client's configuration of `issuer` for this client, over loopback http. */
async function discover(issuer, clientId, secret, auth) {
  try {
    return await client.discovery(new URL(issuer), clientId, secret, auth, {
      execute: [client.allowInsecureRequests],
    });
  } catch (e) {
    console.log(JSON.stringify({ error: `${e.name}: ${e.message} ${e.cause ? JSON.stringify(e.cause) : ''}` }));
    process.exit(1);
  }
}

if (process.argv[2] === '--client-credentials') {
  const [issuer, audience, clientId, secret] = process.argv.slice(3);
  const report = { tokens: {} };
  const auths = {
    client_secret_basic: client.ClientSecretBasic(secret),
    client_secret_post: client.ClientSecretPost(secret),
  };
  let last;
  for (const [method, auth] of Object.entries(auths)) {
    last = await discover(issuer, clientId, secret, auth);
    const metadata = last.serverMetadata();
    Object.assign(report, { issuer: metadata.issuer, token_endpoint: metadata.token_endpoint });
    const keys = jose.createRemoteJWKSet(new URL(metadata.jwks_uri));
    const got = await client.clientCredentialsGrant(last, { audience, scope: 'read write' });
    const entry = { expires_in: got.expires_in, token_type: got.token_type };
    try {
      const { payload } = await jose.jwtVerify(got.access_token, keys, { issuer: metadata.issuer, audience });
      Object.assign(entry, { verified: 'valid', claims: payload });
    } catch (e) {
      entry.verified = `rejected: ${e.code ?? e.name}`;
    }
    report.tokens[method] = entry;
  }
  const metadata = last.serverMetadata();
  const other = await client.clientCredentialsGrant(last, { audience: 'someone-else' });
  try {
    await jose.jwtVerify(other.access_token, jose.createRemoteJWKSet(new URL(metadata.jwks_uri)), {
      issuer: metadata.issuer,
      audience,
    });
    report.rejected = 'accepted';
  } catch (e) {
    report.rejected = `rejected: ${e.code ?? e.name}`;
  }
  console.log(JSON.stringify(report));
  process.exit(0);
}

const [issuer, audience, ...tokens] = process.argv.slice(2);
const config = await discover(issuer, 'jwksmith-test', undefined, undefined);
const metadata = config.serverMetadata();
const keys = jose.createRemoteJWKSet(new URL(metadata.jwks_uri));
const results = [];
for (const token of tokens) {
  try {
    await jose.jwtVerify(token, keys, {
      issuer: metadata.issuer,
      audience,
      algorithms: metadata.id_token_signing_alg_values_supported,
    });
    results.push('valid');
  } catch (e) {
    results.push(`rejected: ${e.code ?? e.name}`);
  }
}
console.log(JSON.stringify({
  issuer: metadata.issuer,
  jwks_uri: metadata.jwks_uri,
  algs: metadata.id_token_signing_alg_values_supported,
  tokens: results,
}));
