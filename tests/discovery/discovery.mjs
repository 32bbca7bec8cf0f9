// The node client of the discovery tests (tests/discovery.rs): openid-client's discovery of an
// issuer served by `jwksmith serve` (loopback http, hence allowInsecureRequests), then jose's
// verification of tokens against the discovered jwks_uri.
//
//   node discovery.mjs ISSUER AUDIENCE TOKEN...
//
// Prints {"issuer", "jwks_uri", "algs", "tokens": ["valid" | "rejected: <why>", ...]}; a failed
// discovery prints {"error"} and exits 1.
import * as client from 'openid-client';
import * as jose from 'jose';

const [issuer, audience, ...tokens] = process.argv.slice(2);
let config;
try {
  config = await client.discovery(new URL(issuer), 'jwksmith-test', undefined, undefined, {
    execute: [client.allowInsecureRequests],
  });
} catch (e) {
  console.log(JSON.stringify({ error: `${e.name}: ${e.message} ${e.cause ? JSON.stringify(e.cause) : ''}` }));
  process.exit(1);
}
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
