"""Re-records keysize_values.json: x-simple-encryption values made by an independent
implementation (Python hashlib/hmac and pyca/cryptography's AES-CBC) of json-crypto's
2016 scheme, with the "keySize" variants IDM and Advanced Identity Cloud print:
bytes (16), bits (128, 256) and none (the length then follows the key).

Scheme (ForgeRock json-crypto SimpleEncryptor/HKDFKeyGenerator): PRK = HMAC-SHA256(salt,
key); encKey = HKDF-Expand(PRK, "AES", L); macKey = HKDF-Expand(PRK, "HmacSHA256", 32);
data = AES-CBC-PKCS5(encKey, iv, JSON text); mac = HMAC-SHA256(macKey, M)[:16], M = every
field but mac sorted by name, UTF-8(name) || UTF-8(str(value)).

Run: /usr/bin/python3 gen.py  (Debian python3-cryptography)
"""
import base64
import hashlib
import hmac
import json
import os

from cryptography.hazmat.primitives import padding
from cryptography.hazmat.primitives.ciphers import Cipher, algorithms, modes


def hkdf_expand(prk, info, n):
    out, t, i = b"", b"", 1
    while len(out) < n:
        t = hmac.new(prk, t + info + bytes([i]), hashlib.sha256).digest()
        out += t
        i += 1
    return out[:n]


def make(key, alias, derive, keysize_field, plaintext, seed):
    salt = hashlib.sha256(b"salt" + seed).digest()[:16]
    iv = hashlib.sha256(b"iv" + seed).digest()[:16]
    prk = hmac.new(salt, key, hashlib.sha256).digest()
    enc_key = hkdf_expand(prk, b"AES", derive)
    mac_key = hkdf_expand(prk, b"HmacSHA256", 32)
    p = padding.PKCS7(128).padder()
    pt = p.update(json.dumps(plaintext).encode()) + p.finalize()
    e = Cipher(algorithms.AES(enc_key), modes.CBC(iv)).encryptor()
    data = e.update(pt) + e.finalize()
    v = {"cipher": "AES/CBC/PKCS5Padding", "stableId": alias, "purpose": "idm.password.encryption",
         "salt": base64.b64encode(salt).decode(), "iv": base64.b64encode(iv).decode(),
         "data": base64.b64encode(data).decode()}
    if keysize_field is not None:
        v["keySize"] = keysize_field
    m = hmac.new(mac_key, digestmod=hashlib.sha256)
    for k in sorted(v):
        m.update(k.encode() + str(v[k]).encode())
    v["mac"] = base64.b64encode(m.digest()[:16]).decode()
    return {"$crypto": {"type": "x-simple-encryption", "value": v}}


def main():
    keys = {"k16": bytes(range(16)), "k24": bytes(range(24)), "k32": bytes(range(32)), "k20": bytes(range(20))}
    cases = [
        # name, key alias, derived length, keySize field, plaintext
        ("bytes 16", "k16", 16, 16, "Passw0rd"),
        ("bits 128", "k16", 16, 128, "Passw0rd"),
        ("bits 256", "k32", 32, 256, {"user": "bjensen"}),
        ("absent, 32-byte key", "k32", 32, None, "Passw0rd"),
        ("absent, 24-byte key", "k24", 24, None, "Passw0rd"),
        ("absent, 16-byte key", "k16", 16, None, "Passw0rd"),
        # No AES key is 20 bytes long: the reader must refuse (made here with L = 16).
        ("absent, 20-byte key", "k20", 16, None, "Passw0rd"),
    ]
    out = {"keys": {a: k.hex() for a, k in keys.items()}, "cases": []}
    for i, (name, alias, n, ks, pt) in enumerate(cases):
        out["cases"].append({"name": name, "alias": alias, "plaintext": pt,
                             "value": make(keys[alias], alias, n, ks, pt, bytes([i]))})
    here = os.path.dirname(os.path.abspath(__file__))
    with open(os.path.join(here, "keysize_values.json"), "w") as f:
        json.dump(out, f, indent=1)
        f.write("\n")


if __name__ == "__main__":
    main()
