#!/usr/bin/env python3
"""Python clients of the interop matrix (tests/interop_clients.rs), each on its real key-fetching path.

Modes (every one prints one JSON document on stdout):

  sign KEYS_JSON            KEYS_JSON: [{"spec", "alg", "kid", "pem"}] with `pem` a PKCS#8 file from
                            out/private/. Signs with PyJWT and prints, per key, the tokens of every case:
                            [{"id", "spec", "alg", "case", "token"}]; the cases are
                            `valid`, `tampered-payload` (a claim changed, signature kept),
                            `tampered-signature` (one signature character flipped) and
                            `unknown-kid` (signed by the key, but under a kid no set publishes).
  verify JWKS_URL TOKENS    TOKENS: the output of `sign`. Verifies every token with
                            PyJWT (`jwt.PyJWKClient`) and joserfc (urllib + `KeySet.import_key_set`).
  encrypt JWKS_URL          fetches the JWK Set and encrypts to every `use: enc` key with joserfc (JWE
                            compact, content encryption A256GCM).
  decrypt PRIVATE_JWKS JWES JWES: [{"id", "jwe"}]. Decrypts with joserfc and the private JWK Set file.
  verify-minted JWKS_URL TOKENS
                            TOKENS: [{"id", "alg", "token", "iss", "aud"}], made by `jwksmith token`.
                            Verifies each with PyJWT (`jwt.PyJWKClient`), requiring its iss, aud and
                            exp, and prints {"client", "results": {id: {"outcome", "detail", "claims"}}}.

Verification outcomes: `valid` (signature and claims check), `bad-signature`, `no-key` (no key
with the token's kid), `error` (anything else; `detail` says what).
"""

import base64
import json
import sys
import urllib.request
from importlib.metadata import version

import jwt
from joserfc import errors as jose_errors
from joserfc import jwe as jose_jwe
from joserfc import jwt as jose_jwt
from joserfc.jwk import KeySet, import_key

CLAIMS = {"sub": "alice", "iss": "https://issuer.example", "exp": 4102444800}
CONTENT_ENCRYPTION = "A256GCM"


def b64d(text):
    return base64.urlsafe_b64decode(text + "=" * (-len(text) % 4))


def b64e(data):
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode()


def flip_middle(part):
    """Flips the middle character of a base64url string (all 6 of its bits are significant)."""
    at = len(part) // 2
    return part[:at] + ("B" if part[at] == "A" else "A") + part[at + 1 :]


def sign(keys):
    tokens = []
    for key in keys:
        spec, alg, kid = key["spec"], key["alg"], key["kid"]
        with open(key["pem"], "rb") as f:
            pem = f.read()
        claims = dict(CLAIMS, spec=spec)
        valid = jwt.encode(claims, pem, algorithm=alg, headers={"kid": kid})
        header, payload, signature = valid.split(".")
        forged = b64e(json.dumps(dict(claims, sub="mallory"), separators=(",", ":")).encode())
        unknown = jwt.encode(claims, pem, algorithm=alg, headers={"kid": f"unknown-{kid}"})
        cases = {
            "valid": valid,
            "tampered-payload": f"{header}.{forged}.{signature}",
            "tampered-signature": f"{header}.{payload}.{flip_middle(signature)}",
            "unknown-kid": unknown,
        }
        for case, token in cases.items():
            tokens.append({"id": f"{spec}/{case}", "spec": spec, "alg": alg, "case": case, "token": token})
    return tokens


def check_claims(claims, spec):
    expected = dict(CLAIMS, spec=spec)
    if claims != expected:
        return {"outcome": "error", "detail": f"claims {claims} differ from the signed {expected}"}
    return {"outcome": "valid", "detail": ""}


def verify_pyjwt(url, tokens):
    # One client for every token, as an application keeps one (it caches the fetched set).
    client = jwt.PyJWKClient(url, timeout=10)
    results = {}
    for t in tokens:
        try:
            signing_key = client.get_signing_key_from_jwt(t["token"])
            claims = jwt.decode(t["token"], signing_key.key, algorithms=[t["alg"]])
            results[t["id"]] = check_claims(claims, t["spec"])
        except jwt.exceptions.InvalidSignatureError as e:
            results[t["id"]] = {"outcome": "bad-signature", "detail": f"{type(e).__name__}: {e}"}
        except jwt.exceptions.PyJWKClientError as e:
            outcome = "no-key" if "Unable to find a signing key" in str(e) else "error"
            results[t["id"]] = {"outcome": outcome, "detail": f"{type(e).__name__}: {e}"}
        except Exception as e:  # noqa: BLE001 - every other failure is recorded as it is
            results[t["id"]] = {"outcome": "error", "detail": f"{type(e).__name__}: {e}"}
    return {
        "client": "PyJWT",
        "language": "Python",
        "packages": [["PyJWT", version("PyJWT")], ["cryptography", version("cryptography")]],
        "path": "`jwt.PyJWKClient(url).get_signing_key_from_jwt` + `jwt.decode`",
        "results": results,
    }


def fetch_json(url):
    with urllib.request.urlopen(url, timeout=10) as response:
        if response.status != 200:
            raise RuntimeError(f"GET {url}: HTTP {response.status}")
        return json.load(response)


def verify_joserfc(url, tokens):
    keyset = KeySet.import_key_set(fetch_json(url))
    results = {}
    for t in tokens:
        try:
            token = jose_jwt.decode(t["token"], keyset, algorithms=[t["alg"]])
            jose_jwt.JWTClaimsRegistry(exp={"essential": True}).validate(token.claims)
            results[t["id"]] = check_claims(token.claims, t["spec"])
        except jose_errors.BadSignatureError as e:
            results[t["id"]] = {"outcome": "bad-signature", "detail": f"{type(e).__name__}: {e}"}
        except jose_errors.InvalidKeyIdError as e:
            results[t["id"]] = {"outcome": "no-key", "detail": f"{type(e).__name__}: {e}"}
        except Exception as e:  # noqa: BLE001
            results[t["id"]] = {"outcome": "error", "detail": f"{type(e).__name__}: {e}"}
    return {
        "client": "joserfc",
        "language": "Python",
        "packages": [["joserfc", version("joserfc")], ["cryptography", version("cryptography")]],
        "path": "`urllib` GET + `KeySet.import_key_set` + `jwt.decode`",
        "results": results,
    }


def encrypt(url):
    jwes = []
    for jwk in fetch_json(url)["keys"]:
        if jwk.get("use") != "enc":
            continue
        alg, kid = jwk["alg"], jwk["kid"]
        plaintext = f"jwksmith interop: to {kid} by joserfc"
        protected = {"alg": alg, "enc": CONTENT_ENCRYPTION, "kid": kid}
        try:
            key = import_key(jwk)
            token = jose_jwe.encrypt_compact(protected, plaintext, key, algorithms=[alg, CONTENT_ENCRYPTION])
            jwes.append({"kid": kid, "alg": alg, "plaintext": plaintext, "jwe": token, "detail": ""})
        except Exception as e:  # noqa: BLE001
            jwes.append({"kid": kid, "alg": alg, "plaintext": plaintext, "jwe": None, "detail": f"{type(e).__name__}: {e}"})
    return {"client": "joserfc", "packages": [["joserfc", version("joserfc")]], "jwes": jwes}


def decrypt(private_jwks, items):
    with open(private_jwks) as f:
        keyset = KeySet.import_key_set(json.load(f))
    results = {}
    for item in items:
        try:
            alg = json.loads(b64d(item["jwe"].split(".")[0]))["alg"]
            message = jose_jwe.decrypt_compact(item["jwe"], keyset, algorithms=[alg, CONTENT_ENCRYPTION])
            results[item["id"]] = {"outcome": "decrypted", "plaintext": message.plaintext.decode(), "detail": ""}
        except Exception as e:  # noqa: BLE001
            results[item["id"]] = {"outcome": "rejected", "plaintext": None, "detail": f"{type(e).__name__}: {e}"}
    return {"client": "joserfc", "results": results}


def verify_minted(url, tokens):
    client = jwt.PyJWKClient(url, timeout=10)
    results = {}
    for t in tokens:
        try:
            key = client.get_signing_key_from_jwt(t["token"])
            claims = jwt.decode(
                t["token"],
                key.key,
                algorithms=[t["alg"]],
                issuer=t["iss"],
                audience=t["aud"],
                options={"require": ["exp", "iat", "iss", "aud"]},
            )
            results[t["id"]] = {"outcome": "valid", "detail": "", "claims": claims}
        except Exception as e:  # noqa: BLE001 - every failure is recorded as it is
            results[t["id"]] = {"outcome": "error", "detail": f"{type(e).__name__}: {e}", "claims": None}
    return {"client": "PyJWT", "results": results}


def main(argv):
    mode = argv[1] if len(argv) > 1 else ""
    if mode == "sign" and len(argv) == 3:
        with open(argv[2]) as f:
            out = sign(json.load(f))
    elif mode == "verify" and len(argv) == 4:
        with open(argv[3]) as f:
            tokens = json.load(f)
        out = {"clients": [verify_pyjwt(argv[2], tokens), verify_joserfc(argv[2], tokens)]}
    elif mode == "verify-minted" and len(argv) == 4:
        with open(argv[3]) as f:
            out = verify_minted(argv[2], json.load(f))
    elif mode == "encrypt" and len(argv) == 3:
        out = encrypt(argv[2])
    elif mode == "decrypt" and len(argv) == 4:
        with open(argv[3]) as f:
            out = decrypt(argv[2], json.load(f))
    else:
        sys.exit(__doc__)
    json.dump(out, sys.stdout, indent=1, sort_keys=True)
    print()


if __name__ == "__main__":
    main(sys.argv)
