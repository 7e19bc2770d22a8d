#!/usr/bin/env bash
# gen.sh [OUTDIR] — make the keystore corpus of package filestore with independent tools:
# OpenSSL 3 (openssl pkcs12), NSS (pk12util), JDK 17 keytool, Bouncy Castle (libbcprov-java,
# GenBC.java compiled here) and pyjks (python3-pyjks). Writes the files into OUTDIR/files and
# OUTDIR/manifest.tsv (file, store password, key password or "-", notes). Then run truth.sh,
# which records what Java 17 and OpenSSL read from each file into expected.json.
#
# Debian packages: openssl, libnss3-tools, openjdk-17-jdk-headless, libbcprov-java,
# python3-pyjks. Keys, salts and dates change on every run: commit the files with the
# expected.json that truth.sh made from them.
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
out=${1:-$here}
mkdir -p "$out"
out=$(cd "$out" && pwd)
F=$out/files
rm -rf "$F" && mkdir -p "$F"
: >"$out/manifest.tsv"
W=$(mktemp -d)
trap 'rm -rf "$W"' EXIT
cd "$W"

PY=/usr/bin/python3
BCJAR=${BCJAR:-$(ls /usr/share/java/bcprov.jar /usr/share/java/bcprov-*.jar 2>/dev/null | head -1)}

man() { printf '%s\t%s\t%s\t%s\n' "$1" "$2" "${3:--}" "${4:-}" >>"$out/manifest.tsv"; }
ossl() { openssl "$@" 2>/dev/null; }
kt() { keytool "$@" >/dev/null 2>&1; }

# ---- keys and certificates ----
ossl genpkey -algorithm RSA -pkeyopt rsa_keygen_bits:2048 -out rsa.key
ossl genpkey -algorithm RSA -pkeyopt rsa_keygen_bits:2048 -out ca.key
ossl genpkey -algorithm RSA -pkeyopt rsa_keygen_bits:2048 -out int.key
ossl genpkey -algorithm EC -pkeyopt ec_paramgen_curve:P-256 -out p256.key
ossl genpkey -algorithm EC -pkeyopt ec_paramgen_curve:P-384 -out p384.key
ossl genpkey -algorithm EC -pkeyopt ec_paramgen_curve:secp256k1 -out k1.key
ossl genpkey -algorithm EC -pkeyopt ec_paramgen_curve:sect193r1 -out b193.key 2>/dev/null || true
ossl genpkey -genparam -algorithm DSA -pkeyopt dsa_paramgen_bits:2048 -out dsa.param
ossl genpkey -paramfile dsa.param -out dsa.key
for k in A B C; do ossl genpkey -algorithm EC -pkeyopt ec_paramgen_curve:P-256 -out cyc$k.key; done

selfsigned() { # key subj out
	ossl req -x509 -new -key "$1" -subj "$2" -days 3650 -out "$3" -addext basicConstraints=critical,CA:TRUE
}
issue() { # key subj cacert cakey out [ca]
	ossl req -new -key "$1" -subj "$2" -out "$W/req.csr"
	local ext=()
	if [ "${6:-}" = ca ]; then printf 'basicConstraints=critical,CA:TRUE\n' >"$W/ext"; else printf 'basicConstraints=CA:FALSE\n' >"$W/ext"; fi
	ossl x509 -req -in "$W/req.csr" -CA "$3" -CAkey "$4" -CAcreateserial -days 3650 -out "$5" -extfile "$W/ext"
}
selfsigned ca.key "/CN=Corpus Root CA/O=secretstores corpus" ca.pem
issue int.key "/CN=Corpus Intermediate CA/O=secretstores corpus" ca.pem ca.key int.pem ca
issue rsa.key "/CN=rsa leaf/O=secretstores corpus" int.pem int.key rsa.pem
issue p256.key "/CN=p256 leaf/O=secretstores corpus" int.pem int.key p256.pem
selfsigned p384.key "/CN=p384 self-signed" p384.pem
selfsigned k1.key "/CN=secp256k1 self-signed" k1.pem
[ -s b193.key ] && selfsigned b193.key "/CN=sect193r1 self-signed" b193.pem
selfsigned dsa.key "/CN=dsa self-signed" dsa.pem
cat int.pem ca.pem >chain.pem
# A 3-certificate issuer loop: A issued by C, C by B, B by A.
for k in A B C; do selfsigned cyc$k.key "/CN=cycle $k" tmp$k.pem; done
issue cycA.key "/CN=cycle A" tmpC.pem cycC.key cycA.pem
issue cycC.key "/CN=cycle C" tmpB.pem cycB.key cycC.pem
issue cycB.key "/CN=cycle B" tmpA.pem cycA.key cycB.pem
cat cycC.pem cycB.pem >cyc-chain.pem

# ---- OpenSSL 3 ----
p12() { # name pass notes -- openssl pkcs12 -export options...
	local name=$1 pass=$2 notes=$3
	shift 3
	openssl pkcs12 -export -out "$F/$name" -passout "pass:$pass" "$@" 2>/dev/null
	man "$name" "$pass" - "$notes"
}
R=(-inkey rsa.key -in rsa.pem -certfile chain.pem -name "rsa-key")
p12 ossl-default.p12 changeit "openssl 3 default: PBES2 AES-256, SHA-256 MAC" "${R[@]}"
p12 ossl-legacy.p12 changeit "openssl -legacy: RC2-40 certs, 3DES key, SHA-1 MAC" -legacy "${R[@]}"
p12 ossl-nomac.p12 changeit "no MAC" -nomac "${R[@]}"
p12 ossl-legacy-nomac.p12 changeit "legacy, no MAC" -legacy -nomac "${R[@]}"
p12 ossl-empty-pass.p12 "" "empty password" "${R[@]}"
p12 ossl-empty-pass-legacy.p12 "" "empty password, legacy (Windows-style)" -legacy "${R[@]}"
p12 ossl-empty-pass-nomac.p12 "" "empty password, no MAC" -nomac "${R[@]}"
p12 ossl-certpbe-none.p12 changeit "certificates unencrypted" -certpbe NONE "${R[@]}"
p12 ossl-keypbe-none.p12 changeit "key in a plain keyBag" -keypbe NONE "${R[@]}"
p12 ossl-all-none.p12 changeit "nothing encrypted, MAC only" -keypbe NONE -certpbe NONE "${R[@]}"
p12 ossl-all-none-nomac.p12 changeit "nothing encrypted, no MAC" -keypbe NONE -certpbe NONE -nomac "${R[@]}"
p12 ossl-aes128.p12 changeit "AES-128-CBC both" -certpbe AES-128-CBC -keypbe AES-128-CBC "${R[@]}"
p12 ossl-aes192.p12 changeit "AES-192-CBC both" -certpbe AES-192-CBC -keypbe AES-192-CBC "${R[@]}"
p12 ossl-3des-pbes2.p12 changeit "PBES2 DES-EDE3-CBC" -certpbe DES-EDE3-CBC -keypbe DES-EDE3-CBC "${R[@]}"
p12 ossl-sha1-3des.p12 changeit "PBE-SHA1-3DES both" -certpbe PBE-SHA1-3DES -keypbe PBE-SHA1-3DES "${R[@]}"
p12 ossl-sha1-2des.p12 changeit "PBE-SHA1-2DES both" -legacy -certpbe PBE-SHA1-2DES -keypbe PBE-SHA1-2DES "${R[@]}"
p12 ossl-rc2-128.p12 changeit "PBE-SHA1-RC2-128 both" -legacy -certpbe PBE-SHA1-RC2-128 -keypbe PBE-SHA1-RC2-128 "${R[@]}"
p12 ossl-rc4-128.p12 changeit "PBE-SHA1-RC4-128 both" -legacy -certpbe PBE-SHA1-RC4-128 -keypbe PBE-SHA1-RC4-128 "${R[@]}"
p12 ossl-descert.p12 changeit "-descert: 3DES certs" -descert "${R[@]}"
p12 ossl-macsha1.p12 changeit "SHA-1 MAC" -macalg sha1 "${R[@]}"
p12 ossl-macsha512.p12 changeit "SHA-512 MAC" -macalg sha512 "${R[@]}"
p12 ossl-macsha384.p12 changeit "SHA-384 MAC" -macalg sha384 "${R[@]}"
p12 ossl-iter1.p12 changeit "iteration count 1 (-noiter -nomaciter)" -noiter -nomaciter "${R[@]}"
p12 ossl-iter100k.p12 changeit "100000 iterations" -iter 100000 "${R[@]}"
p12 ossl-unicode-pass.p12 "pässwörd€" "non-ASCII password" "${R[@]}"
p12 ossl-unicode-pass-legacy.p12 "pässwörd€" "non-ASCII password, legacy" -legacy "${R[@]}"
p12 ossl-upper-alias.p12 changeit "alias in upper case" -inkey rsa.key -in rsa.pem -name "Upper-Case-Alias"
p12 ossl-unicode-alias.p12 changeit "non-ASCII alias" -inkey rsa.key -in rsa.pem -name "clé-ключ"
p12 ossl-noname.p12 changeit "no friendlyName" -inkey rsa.key -in rsa.pem -certfile chain.pem
p12 ossl-caname.p12 changeit "CA certs with friendlyNames" "${R[@]}" -caname intermediate -caname root
p12 ossl-p256.p12 changeit "EC P-256 key" -inkey p256.key -in p256.pem -certfile chain.pem -name ec-key
p12 ossl-p384.p12 changeit "EC P-384 key" -inkey p384.key -in p384.pem -name ec384
p12 ossl-secp256k1.p12 changeit "EC secp256k1 key" -inkey k1.key -in k1.pem -name k1
p12 ossl-dsa.p12 changeit "DSA key" -inkey dsa.key -in dsa.pem -name dsa
p12 ossl-cycle.p12 changeit "3-certificate issuer loop" -inkey cycA.key -in cycA.pem -certfile cyc-chain.pem -name cycle
p12 ossl-nokeys.p12 changeit "certificates only, no trustedKeyUsage" -nokeys -in chain.pem
p12 ossl-nokeys-k1.p12 changeit "certificates only: secp256k1 + RSA" -nokeys -in k1.pem -certfile ca.pem
p12 ossl-longpass.p12 "$(printf 'x%.0s' $(seq 1 100))" "100-character password" "${R[@]}"

# ---- NSS pk12util (BER, indefinite lengths) ----
NSSDB=$W/nss
mkdir -p "$NSSDB"
certutil -N -d "sql:$NSSDB" --empty-password
pk12util -i "$F/ossl-default.p12" -d "sql:$NSSDB" -W changeit >/dev/null
openssl pkcs12 -export -out ec-in.p12 -passout pass:changeit -inkey p256.key -in p256.pem -name ec-key 2>/dev/null
pk12util -i ec-in.p12 -d "sql:$NSSDB" -W changeit >/dev/null
nss() { # name pass nick notes [pk12util options]
	local name=$1 pass=$2 nick=$3 notes=$4
	shift 4
	pk12util -o "$F/$name" -n "$nick" -d "sql:$NSSDB" -W "$pass" "$@" >/dev/null
	man "$name" "$pass" - "$notes"
}
nss nss-default.p12 changeit rsa-key "NSS pk12util default"
nss nss-ec.p12 changeit ec-key "NSS pk12util EC key"
nss nss-aes.p12 changeit rsa-key "NSS AES-256-CBC" -c AES-256-CBC -C AES-128-CBC
nss nss-3des.p12 changeit rsa-key "NSS SHA1/3DES legacy" -c "PKCS #12 V2 PBE With SHA-1 And 3KEY Triple DES-CBC" -C "PKCS #12 V2 PBE With SHA-1 And 40 Bit RC2 CBC"
nss nss-nocertenc.p12 changeit rsa-key "NSS certificates unencrypted" -C NONE
nss nss-empty-pass.p12 "" rsa-key "NSS empty password"
nss nss-unicode-pass.p12 "pässwörd€" rsa-key "NSS non-ASCII password"
nss nss-macsha256.p12 changeit rsa-key "NSS SHA-256 MAC" -M SHA-256

# ---- JDK 17 keytool ----
KS=(-storepass changeit)
ktk() { # type file
	local t=$1 f=$2
	kt -genkeypair -alias rsa -keyalg RSA -keysize 2048 -dname "CN=rsa,O=keytool" -keystore "$f" -storetype "$t" "${KS[@]}" -keypass changeit
	kt -genkeypair -alias dsa -keyalg DSA -keysize 2048 -dname "CN=dsa,O=keytool" -keystore "$f" -storetype "$t" "${KS[@]}" -keypass changeit
	kt -genkeypair -alias ec -keyalg EC -groupname secp384r1 -dname "CN=ec,O=keytool" -keystore "$f" -storetype "$t" "${KS[@]}" -keypass changeit
	kt -importcert -noprompt -alias k1-trusted -file k1.pem -keystore "$f" -storetype "$t" "${KS[@]}"
	kt -importcert -noprompt -alias ca-trusted -file ca.pem -keystore "$f" -storetype "$t" "${KS[@]}"
}
ktk JKS "$F/keytool-dsa-k1.jks"; man keytool-dsa-k1.jks changeit - "keytool JKS: RSA, DSA, EC keys; secp256k1 + RSA trusted certs"
ktk JCEKS "$F/keytool-dsa-k1.jceks"; man keytool-dsa-k1.jceks changeit - "keytool JCEKS: RSA, DSA, EC keys; secp256k1 + RSA trusted certs"
ktk PKCS12 "$F/keytool-dsa-k1.p12"; man keytool-dsa-k1.p12 changeit - "keytool PKCS12: RSA, DSA, EC keys; secp256k1 + RSA trusted certs"
if [ -s b193.pem ]; then
	for t in JKS PKCS12; do
		f=$F/keytool-trust-b193.${t,,}
		[ $t = PKCS12 ] && f=$F/keytool-trust-b193.p12
		kt -importcert -noprompt -alias b193 -file b193.pem -keystore "$f" -storetype $t "${KS[@]}"
		kt -importcert -noprompt -alias root -file ca.pem -keystore "$f" -storetype $t "${KS[@]}"
		man "$(basename "$f")" changeit - "keytool $t truststore: sect193r1 + RSA certs"
	done
fi
kt -genseckey -alias hmac -keyalg HmacSHA256 -keysize 256 -keystore "$F/keytool-dsa-k1.jceks" -storetype JCEKS "${KS[@]}" -keypass changeit
for t in JKS JCEKS; do
	f=$F/keytool-keypass.${t,,}
	kt -genkeypair -alias same -keyalg RSA -keysize 2048 -dname "CN=same" -keystore "$f" -storetype $t "${KS[@]}" -keypass changeit
	kt -genkeypair -alias other -keyalg RSA -keysize 2048 -dname "CN=other" -keystore "$f" -storetype $t "${KS[@]}" -keypass otherpass
	kt -importcert -noprompt -alias trusted -file ca.pem -keystore "$f" -storetype $t "${KS[@]}"
	man "keytool-keypass.${t,,}" changeit - "keytool $t: one entry under another key password"
	f=$F/keytool-allkeypass.${t,,}
	kt -genkeypair -alias one -keyalg EC -groupname secp256r1 -dname "CN=one" -keystore "$f" -storetype $t "${KS[@]}" -keypass keypass1
	kt -genkeypair -alias two -keyalg RSA -keysize 2048 -dname "CN=two" -keystore "$f" -storetype $t "${KS[@]}" -keypass keypass1
	man "keytool-allkeypass.${t,,}" changeit keypass1 "keytool $t: every key under keypass1"
done
kt -genseckey -alias aes -keyalg AES -keysize 128 -keystore "$F/keytool-keypass.jceks" -storetype JCEKS "${KS[@]}" -keypass otherpass
kt -genkeypair -alias MixedCase -keyalg RSA -keysize 2048 -dname "CN=mixed" -keystore "$F/keytool-case.jks" -storetype JKS "${KS[@]}" -keypass changeit
man keytool-case.jks changeit - "keytool JKS, alias given in mixed case"
kt -genkeypair -alias MixedCase -keyalg RSA -keysize 2048 -dname "CN=mixed" -keystore "$F/keytool-case.p12" -storetype PKCS12 "${KS[@]}"
man keytool-case.p12 changeit - "keytool PKCS12, alias given in mixed case"
kt -importkeystore -noprompt -srckeystore "$F/ossl-cycle.p12" -srcstoretype PKCS12 -srcstorepass changeit \
	-destkeystore "$F/keytool-cycle.jks" -deststoretype JKS -deststorepass changeit -destkeypass changeit
man keytool-cycle.jks changeit - "keytool JKS copy of the 3-certificate loop"
kt -genkeypair -alias e -keyalg RSA -keysize 2048 -dname "CN=e" -keystore "$F/keytool-empty-pass.p12" -storetype PKCS12 -storepass "" || true
[ -s "$F/keytool-empty-pass.p12" ] && man keytool-empty-pass.p12 "" - "keytool PKCS12 empty store password"
kt -importkeystore -noprompt -srckeystore "$F/ossl-default.p12" -srcstoretype PKCS12 -srcstorepass changeit \
	-destkeystore "$F/keytool-legacy.p12" -deststoretype PKCS12 -deststorepass changeit -J-Dkeystore.pkcs12.legacy
man keytool-legacy.p12 changeit - "keytool PKCS12 with -J-Dkeystore.pkcs12.legacy"
kt -importkeystore -noprompt -srckeystore "$F/ossl-default.p12" -srcstoretype PKCS12 -srcstorepass changeit \
	-destkeystore "$F/keytool-nomac.p12" -deststoretype PKCS12 -deststorepass changeit -J-Dkeystore.pkcs12.macAlgorithm=NONE
man keytool-nomac.p12 changeit - "keytool PKCS12 without MAC (macAlgorithm=NONE)"

# ---- Bouncy Castle ----
if [ -n "$BCJAR" ]; then
	mkdir -p bc
	javac -d bc -cp "$BCJAR" "$here/GenBC.java"
	java -cp "bc:$BCJAR" GenBC "$F/ossl-default.p12" changeit "$F" >>"$out/manifest.tsv"
fi

# ---- pyjks ----
openssl pkcs8 -topk8 -nocrypt -in rsa.key -outform DER -out rsa.p8 2>/dev/null
openssl pkcs8 -topk8 -nocrypt -in p256.key -outform DER -out p256.p8 2>/dev/null
openssl pkcs8 -topk8 -nocrypt -in dsa.key -outform DER -out dsa.p8 2>/dev/null
for c in rsa int ca p256 k1 dsa; do openssl x509 -in $c.pem -outform DER -out $c.der; done
"$PY" "$here/genjks.py" "$W" "$F" >>"$out/manifest.tsv"

cd "$out"
echo "gen.sh: $(wc -l <manifest.tsv) files in $F" >&2
