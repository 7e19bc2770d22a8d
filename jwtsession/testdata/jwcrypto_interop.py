"""Interop peer for jwtsession: Debian's python3-jwcrypto.

Run with /usr/bin/python3 (the Debian interpreter that has python3-jwcrypto).
Reads one JSON object on stdin, writes one JSON object on stdout.

  verify: {"token", "hmac_key" (base64url raw bytes), "rsa_private_pem", "outer_algs", "inner_algs"}
          -> {"outer_header", "inner_header", "claims"}
          Verifies the outer JWS with the raw HMAC key, then decrypts the inner JWE
          (RSA1_5 must be allowed explicitly: jwcrypto refuses it by default).
  issue:  {"hmac_key", "rsa_public_pem", "claims", "outer_header", "inner_header"}
          -> {"token"}
          Builds a token in IDM's layout: JWS(HS256, typ JWT, cty JWT) over the
          compact JWE(RSA1_5, A128CBC-HS256) of the claims. A header given as a
          JSON string (not an object) is used byte for byte as the protected
          header, e.g. the exact headers of a real IDM 7 session-jwt.
"""
import json
import sys

from jwcrypto import jwe, jwk, jws
from jwcrypto.common import base64url_decode, json_decode


def header(h):
    """A header object and its protected text: a string is kept byte for byte."""
    if isinstance(h, str):
        return json.loads(h), h
    return h, json.dumps(h)


def main():
    cmd = sys.argv[1]
    req = json.load(sys.stdin)
    hkey = jwk.JWK(kty="oct", k=req["hmac_key"])
    if cmd == "verify":
        rkey = jwk.JWK.from_pem(req["rsa_private_pem"].encode())
        outer = jws.JWS()
        outer.allowed_algs = req.get("outer_algs", ["HS256"])
        outer.deserialize(req["token"])
        outer.verify(hkey)
        inner_compact = outer.payload.decode()
        inner = jwe.JWE()
        inner.allowed_algs = req.get("inner_algs", ["RSA1_5", "A128CBC-HS256"])
        inner.deserialize(inner_compact)
        inner.decrypt(rkey)
        out = {
            "outer_header": json_decode(base64url_decode(req["token"].split(".")[0])),
            "inner_header": json_decode(base64url_decode(inner_compact.split(".")[0])),
            "claims": json_decode(inner.payload),
        }
    elif cmd == "issue":
        rkey = jwk.JWK.from_pem(req["rsa_public_pem"].encode())
        ih, ih_text = header(req["inner_header"])
        inner = jwe.JWE(json.dumps(req["claims"]).encode(), protected=ih_text)
        inner.allowed_algs = [ih["alg"], ih["enc"]]
        inner.add_recipient(rkey)
        outer = jws.JWS(inner.serialize(compact=True).encode())
        oh, oh_text = header(req["outer_header"])
        outer.allowed_algs = [oh["alg"]]
        outer.add_signature(hkey, None, protected=oh_text)
        out = {"token": outer.serialize(compact=True)}
    else:
        raise SystemExit("unknown command " + cmd)
    json.dump(out, sys.stdout)


if __name__ == "__main__":
    main()
