#!/usr/bin/env bash
# truth.sh [DIR] — record what JDK 17 (Truth.java: KeyStore.getInstance(File, password), then
# per alias the entry type, key algorithm, key value digest, certificate chain SHA-256s) and
# OpenSSL 3 (`openssl pkcs12 -nodes`, with -legacy when needed: certificate SHA-256s and the
# number of private keys) read from each file of DIR/manifest.tsv, into DIR/expected.json.
# Re-run it after gen.sh; the corpus test (TestCorpus) compares package filestore with it.
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
dir=$(cd "${1:-$here}" && pwd)
W=$(mktemp -d)
trap 'rm -rf "$W"' EXIT
javac -d "$W" "$here/Truth.java"
java -cp "$W" Truth "$dir/files" "$dir/manifest.tsv" "$W/java.json"
: >"$W/openssl.tsv"
while IFS=$'\t' read -r file pass keypass notes; do
	legacy=
	if openssl pkcs12 -in "$dir/files/$file" -passin "pass:$pass" -nodes -out "$W/out.pem" 2>/dev/null; then
		:
	elif openssl pkcs12 -legacy -in "$dir/files/$file" -passin "pass:$pass" -nodes -out "$W/out.pem" 2>/dev/null; then
		legacy=1
	else
		printf '%s\tfail\n' "$file" >>"$W/openssl.tsv"
		continue
	fi
	printf '%s\tok%s\t%s\n' "$file" "${legacy:+-legacy}" "$(base64 -w0 "$W/out.pem")" >>"$W/openssl.tsv"
done <"$dir/manifest.tsv"
/usr/bin/python3 - "$W/java.json" "$W/openssl.tsv" "$dir/manifest.tsv" "$dir/expected.json" <<'PY'
import base64, hashlib, json, re, sys
java = json.load(open(sys.argv[1], encoding="utf-8"))
res = {}
for line in open(sys.argv[3], encoding="utf-8"):
    f = line.rstrip("\n").split("\t")
    res[f[0]] = {"password": f[1], "keyPassword": "" if f[2] == "-" else f[2], "notes": f[3], "java": java[f[0]]}
for line in open(sys.argv[2], encoding="utf-8"):
    f = line.rstrip("\n").split("\t")
    o = {"ok": f[1] != "fail"}
    if o["ok"]:
        pem = base64.b64decode(f[2]).decode("latin-1")
        o["legacy"] = f[1] == "ok-legacy"
        o["certs"] = sorted(hashlib.sha256(base64.b64decode("".join(m.split()))).hexdigest()
                            for m in re.findall(r"-----BEGIN CERTIFICATE-----(.*?)-----END CERTIFICATE-----", pem, re.S))
        o["keys"] = len(re.findall(r"-----BEGIN (?:[A-Z]+ )?PRIVATE KEY-----", pem))
    res[f[0]]["openssl"] = o
json.dump(res, open(sys.argv[4], "w", encoding="utf-8"), indent=1, sort_keys=True, ensure_ascii=True)
PY
echo "truth.sh: wrote $dir/expected.json" >&2
