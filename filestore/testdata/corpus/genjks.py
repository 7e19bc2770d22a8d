"""genjks.py WORKDIR OUTDIR: keystores written by pyjks (python3-pyjks), from the DER keys and
certificates gen.sh left in WORKDIR; prints one manifest line per file (file, store password,
key password, notes). Also writes a JKS with a duplicated alias, made by patching pyjks'
output (keytool refuses to make one), with a fresh integrity trailer."""
import hashlib
import os
import struct
import sys

import jks

w, out = sys.argv[1], sys.argv[2]


def rd(name):
    with open(os.path.join(w, name), "rb") as f:
        return f.read()


rsa, p256, dsa = rd("rsa.p8"), rd("p256.p8"), rd("dsa.p8")
rsa_chain = [rd("rsa.der"), rd("int.der"), rd("ca.der")]


def pk(alias, key, chain):
    return jks.PrivateKeyEntry.new(alias, chain, key, "pkcs8")


def tc(alias, der):
    return jks.TrustedCertEntry.new(alias, der)


def save(name, store_type, entries, pw, notes, keypass=None):
    ks = jks.KeyStore.new(store_type, entries)
    if keypass:
        for e in entries:
            if isinstance(e, (jks.PrivateKeyEntry, jks.SecretKeyEntry)):
                e.encrypt(keypass)
    ks.save(os.path.join(out, name), pw)
    print("%s\t%s\t%s\t%s" % (name, pw, keypass or "-", notes))


save("pyjks.jks", "jks", [pk("rsa", rsa, rsa_chain), pk("ec", p256, [rd("p256.der"), rd("int.der")]), tc("root", rd("ca.der"))],
     "changeit", "pyjks JKS: RSA + EC keys, trusted root")
save("pyjks-dsa.jks", "jks", [pk("dsa", dsa, [rd("dsa.der")]), pk("rsa", rsa, rsa_chain), tc("k1", rd("k1.der"))],
     "changeit", "pyjks JKS: DSA + RSA keys, secp256k1 trusted cert")
save("pyjks-keypass.jks", "jks", [pk("rsa", rsa, rsa_chain)], "storepw", "pyjks JKS, key password differs", keypass="keypw")
save("pyjks-empty-pass.jks", "jks", [pk("rsa", rsa, rsa_chain), tc("root", rd("ca.der"))], "", "pyjks JKS, empty store password")


# A JKS with the alias "dup" twice: first a trusted cert, then a private key.
def dup(name, second, magic=None):
    ks = jks.KeyStore.new("jks", [tc("dup", rd("ca.der")), second])
    path = os.path.join(out, name)
    ks.save(path, "changeit")
    with open(path, "rb") as f:
        data = f.read()[:-20]
    if magic:
        data = magic + data[4:]
    # Rename "dup2" to "dup": same length prefix changes from 4 to 3.
    i = data.index(struct.pack(">H", 4) + b"dup2")
    data = data[:i] + struct.pack(">H", 3) + b"dup" + data[i + 6:]
    pw = "changeit".encode("utf-16-be")
    data += hashlib.sha1(pw + b"Mighty Aphrodite" + data).digest()
    with open(path, "wb") as f:
        f.write(data)
    print("%s\tchangeit\t-\tduplicate alias (trusted cert, then %s)" % (name, "key" if magic is None else "another trusted cert"))


dup("pyjks-dup-alias.jks", pk("dup2", rsa, rsa_chain))
# JCEKS stores trusted certificates as JKS does: only the magic differs.
dup("pyjks-dup-alias.jceks", tc("dup2", rd("int.der")), magic=bytes.fromhex("cececece"))
