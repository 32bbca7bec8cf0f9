// W1's conversion only, in node with jose: for every set under KEYS, read each `<kid>.key.pem`
// and its `<kid>.meta.json` (for use and alg), import it (importPKCS8), export it (exportJWK) and
// write the public and the private JWK Set with kid/use/alg to OUT/public/<set>/jwks.json and
// OUT/private/<set>/jwks.json. No self-test, no other outputs. One process.
//
// usage: node bench/peer_jose.mjs KEYS OUT
import { mkdirSync, readdirSync, readFileSync, writeFileSync } from "node:fs";
import { join, relative } from "node:path";
import { exportJWK, importPKCS8 } from "jose";

const PUBLIC_MEMBERS = { RSA: ["kty", "n", "e"], EC: ["kty", "crv", "x", "y"] };

async function convert(keysDir, outDir, dir) {
  const entries = readdirSync(dir, { withFileTypes: true }).sort((a, b) => (a.name < b.name ? -1 : 1));
  const publicKeys = [];
  const privateKeys = [];
  for (const entry of entries) {
    if (!entry.isFile() || !entry.name.endsWith(".key.pem")) continue;
    const kid = entry.name.slice(0, -".key.pem".length);
    const meta = JSON.parse(readFileSync(join(dir, `${kid}.meta.json`), "utf8"));
    const pem = readFileSync(join(dir, entry.name), "utf8");
    const key = await importPKCS8(pem, meta.alg, { extractable: true });
    const jwk = await exportJWK(key);
    const named = { kid, use: meta.use, alg: meta.alg };
    privateKeys.push({ ...jwk, ...named });
    const pub = Object.fromEntries(PUBLIC_MEMBERS[jwk.kty].map((m) => [m, jwk[m]]));
    publicKeys.push({ ...pub, ...named });
  }
  if (publicKeys.length > 0) {
    const rel = relative(keysDir, dir);
    for (const [area, keys] of [["public", publicKeys], ["private", privateKeys]]) {
      const target = join(outDir, area, rel);
      mkdirSync(target, { recursive: true });
      writeFileSync(join(target, "jwks.json"), JSON.stringify({ keys }));
    }
  }
  for (const entry of entries) {
    if (entry.isDirectory()) await convert(keysDir, outDir, join(dir, entry.name));
  }
}

const [keysDir, outDir] = process.argv.slice(2);
await convert(keysDir, outDir, keysDir);
