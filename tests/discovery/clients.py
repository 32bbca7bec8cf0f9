#!/usr/bin/env python3
"""Python clients of the discovery tests (tests/discovery.rs). Each mode prints one JSON document.

  sign REQUESTS_JSON      REQUESTS_JSON: [{"pem", "alg", "kid", "iss", "aud", "sub"}] with `pem` a PKCS#8
                          file from out/private/. Signs each with PyJWT (exp in one hour) and prints the
                          tokens in order.
  validate URL...         fetches each discovery document and runs authlib's strict
                          `OpenIDProviderMetadata(...).validate()` on it as served, then on copies missing
                          each required member (and one whose signing algs lack RS256), which must fail:
                          {url: {"served": "ok" | error, "broken": {name: "rejected" | "accepted"}}}.
  client-credentials ISSUER AUDIENCE CLIENT_ID CLIENT_SECRET
                          the flow of an app against `serve --local-issuer`: discovers ISSUER, validates
                          the document with authlib's strict validator, gets a token with authlib's
                          OAuth2Session (client_credentials, once per auth method) and verifies it with
                          PyJWT through the discovered jwks_uri; then one token for another audience,
                          which must fail: {"metadata": "ok" | error, "tokens": {method: {"token_type",
                          "expires_in", "claims"}}, "rejected": "rejected: <why>" | "accepted"}.
"""

import json
import sys
import time
import urllib.request

import jwt
from authlib.integrations.requests_client import OAuth2Session
from authlib.oidc.discovery import OpenIDProviderMetadata

REQUIRED = [
    "issuer",
    "authorization_endpoint",
    "jwks_uri",
    "response_types_supported",
    "subject_types_supported",
    "id_token_signing_alg_values_supported",
]


def sign(path):
    with open(path) as f:
        requests = json.load(f)
    now = int(time.time())
    tokens = []
    for r in requests:
        with open(r["pem"], "rb") as f:
            key = f.read()
        claims = {"iss": r["iss"], "aud": r["aud"], "sub": r["sub"], "iat": now, "exp": now + 3600}
        tokens.append(jwt.encode(claims, key, algorithm=r["alg"], headers={"kid": r["kid"]}))
    return tokens


def outcome(document):
    try:
        OpenIDProviderMetadata(document).validate()
        return "ok"
    except ValueError as e:
        return str(e)


def validate(urls):
    report = {}
    for url in urls:
        with urllib.request.urlopen(url, timeout=30) as response:
            document = json.load(response)
        broken = {}
        for name in REQUIRED:
            copy = {k: v for k, v in document.items() if k != name}
            broken[f"without {name}"] = "accepted" if outcome(copy) == "ok" else "rejected"
        no_rs256 = dict(document, id_token_signing_alg_values_supported=["ES256"])
        broken["without RS256"] = "accepted" if outcome(no_rs256) == "ok" else "rejected"
        report[url] = {"served": outcome(document), "broken": broken}
    return report


def client_credentials(issuer, audience, client_id, client_secret):
    with urllib.request.urlopen(f"{issuer}/.well-known/openid-configuration", timeout=30) as response:
        document = json.load(response)
    metadata = outcome(document)
    keys = jwt.PyJWKClient(document["jwks_uri"])
    algs = document["id_token_signing_alg_values_supported"]

    def verified(token, aud):
        key = keys.get_signing_key_from_jwt(token)
        return jwt.decode(token, key, algorithms=algs, audience=aud, issuer=document["issuer"])

    tokens = {}
    for method in ["client_secret_basic", "client_secret_post"]:
        session = OAuth2Session(client_id, client_secret, token_endpoint_auth_method=method, scope="read write")
        token = session.fetch_token(document["token_endpoint"], grant_type="client_credentials", audience=audience)
        tokens[method] = {
            "token_type": token["token_type"],
            "expires_in": token["expires_in"],
            "claims": verified(token["access_token"], audience),
        }
    session = OAuth2Session(client_id, client_secret)
    other = session.fetch_token(document["token_endpoint"], grant_type="client_credentials", audience="someone-else")
    try:
        verified(other["access_token"], audience)
        rejected = "accepted"
    except jwt.InvalidTokenError as e:
        rejected = f"rejected: {type(e).__name__}"
    return {"metadata": metadata, "tokens": tokens, "rejected": rejected}


def main():
    mode, args = sys.argv[1], sys.argv[2:]
    if mode == "sign":
        result = sign(args[0])
    elif mode == "client-credentials":
        result = client_credentials(*args)
    else:
        result = validate(args)
    json.dump(result, sys.stdout)


if __name__ == "__main__":
    main()
