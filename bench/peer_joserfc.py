#!/usr/bin/env python3
"""W1's conversion only, in python with joserfc (and cryptography): for every set under KEYS,
read each `<kid>.key.pem` and its `<kid>.meta.json` (for use and alg), and write the public and
the private JWK Set with kid/use/alg to OUT/public/<set>/jwks.json and OUT/private/<set>/jwks.json.
No self-test, no other outputs. One process, one thread.

usage: bench/peer_joserfc.py KEYS OUT
"""
import json, os, sys

from joserfc.jwk import ECKey, RSAKey


def convert(keys_dir, out_dir):
    for root, dirs, files in os.walk(keys_dir):
        dirs.sort()
        private_pems = sorted(f for f in files if f.endswith(".key.pem"))
        if not private_pems:
            continue
        public, private = [], []
        for name in private_pems:
            kid = name[: -len(".key.pem")]
            with open(os.path.join(root, kid + ".meta.json"), "rb") as f:
                meta = json.load(f)
            with open(os.path.join(root, name), "rb") as f:
                pem = f.read()
            params = {"kid": kid, "use": meta["use"], "alg": meta["alg"]}
            cls = ECKey if meta["alg"].startswith(("ES", "ECDH")) else RSAKey
            key = cls.import_key(pem, params)
            public.append(key.as_dict(private=False))
            private.append(key.as_dict(private=True))
        rel = os.path.relpath(root, keys_dir)
        for area, jwks in (("public", public), ("private", private)):
            target = os.path.join(out_dir, area, rel)
            os.makedirs(target, exist_ok=True)
            with open(os.path.join(target, "jwks.json"), "w") as f:
                json.dump({"keys": jwks}, f, separators=(",", ":"))


if __name__ == "__main__":
    convert(sys.argv[1], sys.argv[2])
