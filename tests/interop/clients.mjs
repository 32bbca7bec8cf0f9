// Node clients of the interop matrix (tests/interop_clients.rs), each on its real key-fetching path.
// Dependencies are pinned in package.json / package-lock.json: `npm ci` in this directory.
//
// Modes (every one prints one JSON document on stdout):
//
//   verify JWKS_URL TOKENS      TOKENS: [{"id", "spec", "alg", "case", "token"}] (clients.py `sign`).
//                               Verifies every token with `jose` (createRemoteJWKSet + jwtVerify) and
//                               with `jsonwebtoken` + `jwks-rsa` (jwksClient({jwksUri}).getSigningKey(kid)).
//   encrypt JWKS_URL            fetches the JWK Set and encrypts to every `use: enc` key with `jose`
//                               (CompactEncrypt + importJWK, content encryption A256GCM).
//   decrypt PRIVATE_JWKS JWES   JWES: [{"id", "jwe"}]. Decrypts with `jose` and the private JWK Set file.
//   verify-minted JWKS_URL TOKENS
//                               TOKENS: [{"id", "alg", "token", "iss", "aud"}], made by `jwksmith token`.
//                               Verifies each with `jose` (createRemoteJWKSet + jwtVerify, requiring its
//                               iss, aud and exp): {"client", "results": {id: {"outcome", "detail", "claims"}}}.
//
// Verification outcomes: `valid` (signature and claims check), `bad-signature`, `no-key` (no key
// with the token's kid), `error` (anything else; `detail` says what).

import { readFileSync } from 'node:fs';
import { createRequire } from 'node:module';

import { CompactEncrypt, compactDecrypt, createRemoteJWKSet, errors, importJWK, jwtVerify } from 'jose';

const require = createRequire(import.meta.url);
const jsonwebtoken = require('jsonwebtoken');
const jwksRsa = require('jwks-rsa');

const CLAIMS = { sub: 'alice', iss: 'https://issuer.example', exp: 4102444800 };
const CONTENT_ENCRYPTION = 'A256GCM';

/** The installed version of a package, from its package.json beside this script. */
function version(name) {
  const url = new URL(`./node_modules/${name}/package.json`, import.meta.url);
  return JSON.parse(readFileSync(url, 'utf8')).version;
}

function describe(e) {
  return `${e?.name ?? 'Error'}${e?.code ? ` (${e.code})` : ''}: ${e?.message ?? String(e)}`;
}

/** `valid` when the verified claims are exactly the signed ones. */
function checkClaims(claims, spec) {
  const expected = { ...CLAIMS, spec };
  const sorted = (o) => JSON.stringify(Object.fromEntries(Object.entries(o).sort()));
  if (sorted(claims) !== sorted(expected)) {
    return { outcome: 'error', detail: `claims ${JSON.stringify(claims)} differ from the signed ${sorted(expected)}` };
  }
  return { outcome: 'valid', detail: '' };
}

async function verifyJose(url, tokens) {
  // One remote set for every token, as an application keeps one (it caches the fetched set).
  const jwks = createRemoteJWKSet(new URL(url), { timeoutDuration: 10000 });
  const results = {};
  for (const t of tokens) {
    try {
      const { payload } = await jwtVerify(t.token, jwks, { algorithms: [t.alg] });
      results[t.id] = checkClaims(payload, t.spec);
    } catch (e) {
      let outcome = 'error';
      if (e instanceof errors.JWSSignatureVerificationFailed) outcome = 'bad-signature';
      else if (e instanceof errors.JWKSNoMatchingKey) outcome = 'no-key';
      results[t.id] = { outcome, detail: describe(e) };
    }
  }
  return {
    client: 'jose',
    language: 'Node.js',
    packages: [['jose', version('jose')]],
    path: '`createRemoteJWKSet(url)` + `jwtVerify`',
    results,
  };
}

async function verifyJsonwebtoken(url, tokens) {
  const client = jwksRsa({ jwksUri: url, timeout: 10000 });
  const results = {};
  for (const t of tokens) {
    try {
      const { header } = jsonwebtoken.decode(t.token, { complete: true });
      let key;
      try {
        key = await client.getSigningKey(header.kid);
      } catch (e) {
        results[t.id] = { outcome: e?.name === 'SigningKeyNotFoundError' ? 'no-key' : 'error', detail: describe(e) };
        continue;
      }
      const claims = jsonwebtoken.verify(t.token, key.getPublicKey(), { algorithms: [t.alg] });
      results[t.id] = checkClaims(claims, t.spec);
    } catch (e) {
      const outcome = e?.name === 'JsonWebTokenError' && e.message === 'invalid signature' ? 'bad-signature' : 'error';
      results[t.id] = { outcome, detail: describe(e) };
    }
  }
  return {
    client: 'jsonwebtoken + jwks-rsa',
    language: 'Node.js',
    packages: [['jsonwebtoken', version('jsonwebtoken')], ['jwks-rsa', version('jwks-rsa')]],
    path: '`jwksClient({jwksUri}).getSigningKey(kid)` + `jwt.verify`',
    results,
  };
}

async function fetchJson(url) {
  const response = await fetch(url, { signal: AbortSignal.timeout(10000) });
  if (response.status !== 200) throw new Error(`GET ${url}: HTTP ${response.status}`);
  return response.json();
}

async function encrypt(url) {
  const jwes = [];
  for (const jwk of (await fetchJson(url)).keys) {
    if (jwk.use !== 'enc') continue;
    const { alg, kid } = jwk;
    const plaintext = `jwksmith interop: to ${kid} by jose`;
    try {
      const key = await importJWK(jwk, alg);
      const jwe = await new CompactEncrypt(new TextEncoder().encode(plaintext))
        .setProtectedHeader({ alg, enc: CONTENT_ENCRYPTION, kid })
        .encrypt(key);
      jwes.push({ kid, alg, plaintext, jwe, detail: '' });
    } catch (e) {
      jwes.push({ kid, alg, plaintext, jwe: null, detail: describe(e) });
    }
  }
  return { client: 'jose', packages: [['jose', version('jose')]], jwes };
}

async function decrypt(privateJwksPath, items) {
  const keys = JSON.parse(readFileSync(privateJwksPath, 'utf8')).keys;
  const results = {};
  for (const item of items) {
    try {
      const getKey = async (header) => {
        const found = keys.filter((k) => k.kid === header.kid);
        if (found.length !== 1) throw new Error(`no single private key with kid ${header.kid}`);
        return importJWK(found[0], header.alg);
      };
      const alg = JSON.parse(Buffer.from(item.jwe.split('.')[0], 'base64url')).alg;
      const { plaintext } = await compactDecrypt(item.jwe, getKey, {
        keyManagementAlgorithms: [alg],
        contentEncryptionAlgorithms: [CONTENT_ENCRYPTION],
      });
      results[item.id] = { outcome: 'decrypted', plaintext: new TextDecoder().decode(plaintext), detail: '' };
    } catch (e) {
      results[item.id] = { outcome: 'rejected', plaintext: null, detail: describe(e) };
    }
  }
  return { client: 'jose', results };
}

async function verifyMinted(url, tokens) {
  const jwks = createRemoteJWKSet(new URL(url), { timeoutDuration: 10000 });
  const results = {};
  for (const t of tokens) {
    try {
      const { payload } = await jwtVerify(t.token, jwks, {
        algorithms: [t.alg],
        issuer: t.iss,
        audience: t.aud,
        requiredClaims: ['exp', 'iat'],
      });
      results[t.id] = { outcome: 'valid', detail: '', claims: payload };
    } catch (e) {
      results[t.id] = { outcome: 'error', detail: describe(e), claims: null };
    }
  }
  return { client: 'jose', results };
}

async function main(argv) {
  const [mode, ...args] = argv;
  let out;
  if (mode === 'verify' && args.length === 2) {
    const tokens = JSON.parse(readFileSync(args[1], 'utf8'));
    out = { clients: [await verifyJose(args[0], tokens), await verifyJsonwebtoken(args[0], tokens)] };
  } else if (mode === 'verify-minted' && args.length === 2) {
    out = await verifyMinted(args[0], JSON.parse(readFileSync(args[1], 'utf8')));
  } else if (mode === 'encrypt' && args.length === 1) {
    out = await encrypt(args[0]);
  } else if (mode === 'decrypt' && args.length === 2) {
    out = await decrypt(args[0], JSON.parse(readFileSync(args[1], 'utf8')));
  } else {
    process.stderr.write('usage: clients.mjs verify JWKS_URL TOKENS | verify-minted JWKS_URL TOKENS | encrypt JWKS_URL | decrypt PRIVATE_JWKS JWES\n');
    process.exit(2);
  }
  process.stdout.write(`${JSON.stringify(out, null, 1)}\n`);
}

await main(process.argv.slice(2));
