#!/usr/bin/python3
"""Validates a JWT-SVID with PyJWT against a SPIFFE bundle, as a relying
party outside Mayfly would.

Usage: jwt_validate.py BUNDLE_JSON_FILE TOKEN_FILE AUDIENCE
Prints "valid <sub> <kid>" and exits 0, or "invalid: <reason>" and exits 1.
"""
import json
import sys

import jwt


def main():
    bundle_path, token_path, audience = sys.argv[1:4]
    with open(bundle_path, encoding="utf-8") as f:
        bundle = json.load(f)
    with open(token_path, encoding="utf-8") as f:
        token = f.read().strip()
    try:
        kid = jwt.get_unverified_header(token).get("kid")
        keys = [k for k in bundle["keys"] if k.get("use") == "jwt-svid" and k.get("kid") == kid]
        if not keys:
            raise jwt.InvalidTokenError(f"no jwt-svid key {kid} in the bundle")
        key = jwt.PyJWK(keys[0]).key
        claims = jwt.decode(token, key, algorithms=["ES256", "ES384", "RS256", "PS256"], audience=audience,
                            options={"require": ["sub", "aud", "exp"]})
    except jwt.InvalidTokenError as e:
        print(f"invalid: {type(e).__name__}: {e}")
        return 1
    print(f"valid {claims['sub']} {kid}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
