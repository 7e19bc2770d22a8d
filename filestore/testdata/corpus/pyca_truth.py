"""pyca_truth.py DIR...: what pyca/cryptography (python3-cryptography) reads from each PKCS#12
file under the given directories (pyca's own test vectors, python3-cryptography-vectors),
as JSON on stdout: per file the password that opened it ("" for none), the SHA-256 of every
certificate, the number of private keys and, per certificate, its friendlyName; or the
error. Run by TestPycaVectors at test time: no third-party file is committed."""
import hashlib
import json
import os
import sys

from cryptography.hazmat.primitives.serialization import Encoding, pkcs12

out = {}
for d in sys.argv[1:]:
    for name in sorted(os.listdir(d)):
        if not name.endswith(".p12"):
            continue
        path = os.path.join(d, name)
        data = open(path, "rb").read()
        res = {"error": ""}
        for pw in (b"cryptography", b"password", None, b""):
            try:
                p = pkcs12.load_pkcs12(data, pw)
            except Exception as e:  # noqa: BLE001
                res["error"] = "%s: %s" % (type(e).__name__, e)
                continue
            certs = []
            if p.cert is not None:
                certs.append(p.cert.certificate)
            certs += [c.certificate for c in p.additional_certs]
            res = {"password": (pw or b"").decode(), "keys": 0 if p.key is None else 1,
                   "certs": sorted(hashlib.sha256(c.public_bytes(Encoding.DER)).hexdigest() for c in certs)}
            break
        out[path] = res
json.dump(out, sys.stdout, indent=1, sort_keys=True)
