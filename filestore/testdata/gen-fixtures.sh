#!/usr/bin/env bash
# gen-fixtures.sh [OUTDIR] — make the Java keystore fixtures of package filestore with JDK 17
# keytool, then dump what Java itself reads from them (Dump.java) into OUTDIR/expected.json.
#
# Layout per shared/reference/keystores.md §6. Salts, IVs, dates and serials change on every
# run, so the generated files and expected.json are committed together; tests compare against
# that dump and never regenerate, except TestRegenerateFixtures, which (where keytool exists)
# runs this script into a temporary directory and checks the Go readers against the fresh dump.
#
# Files:
#   keystore.p12          PKCS12: 3 HmacSHA256 (256-bit) + AES-128 + AES-256 secret keys,
#                         2 RSA-2048 key pairs (one signed SHA512withRSA), 1 EC P-256 key pair
#   keystore.jceks        JCEKS, -importkeystore of keystore.p12 (store password = key password)
#   keystore.jks          JKS, the RSA and EC key pairs of keystore.p12 (JKS holds no secret keys)
#   keystore-keypass.jceks JCEKS whose key password (keypass1) differs from the store password
#   importpass.jceks      JCEKS holding a password (keytool -importpass: PBEWithMD5AndDES key, which
#                         Java serializes as a java.security.KeyRep)
#   truststore.jks        JKS truststore: the certificates of openidm-localhost and selfservice
#   truststore.p12        PKCS12 truststore: the same certificates
#   expected.json         what Java reads from each of them
# Every store password is "changeit".
set -euo pipefail

here=$(cd "$(dirname "$0")" && pwd)
out=${1:-$here}
mkdir -p "$out"
cd "$out"
rm -f keystore.p12 keystore.jceks keystore.jks keystore-keypass.jceks importpass.jceks truststore.jks truststore.p12 \
	expected.json localhost.cer selfservice.cer

kt() { keytool "$@" 2>&1 | { grep -v -e 'proprietary format' -e 'migrate to PKCS12' -e '^$' -e '^Warning:' || true; }; }

P12=(-keystore keystore.p12 -storetype PKCS12 -storepass changeit)
for a in openidm-sym-default openidm-selfservice-key openidm-jwtsessionhmac-key; do
	kt -genseckey -alias "$a" -keyalg HmacSHA256 -keysize 256 "${P12[@]}"
done
kt -genseckey -alias aes128-key -keyalg AES -keysize 128 "${P12[@]}"
kt -genseckey -alias aes256-key -keyalg AES -keysize 256 "${P12[@]}"
kt -genkeypair -alias openidm-localhost -keyalg RSA -keysize 2048 -validity 3650 \
	-dname 'CN=localhost, O=OpenIDM Self-Signed Certificate' "${P12[@]}"
kt -genkeypair -alias selfservice -keyalg RSA -keysize 2048 -validity 3650 -sigalg SHA512withRSA \
	-dname 'CN=selfservice, O=OpenIDM Self Service Certificate' "${P12[@]}"
kt -genkeypair -alias ec-p256 -keyalg EC -groupname secp256r1 -validity 3650 \
	-dname 'CN=ec-p256, O=secretstores test' "${P12[@]}"

# Same key bytes as JCEKS, store password = key password (what IDM requires).
kt -importkeystore -noprompt -srckeystore keystore.p12 -srcstoretype PKCS12 -srcstorepass changeit \
	-destkeystore keystore.jceks -deststoretype JCEKS -deststorepass changeit -destkeypass changeit

# JKS with private keys: JKS cannot hold secret keys, so import the key pairs one by one.
for a in openidm-localhost ec-p256; do
	kt -importkeystore -noprompt -srckeystore keystore.p12 -srcstoretype PKCS12 -srcstorepass changeit \
		-srcalias "$a" -destkeystore keystore.jks -deststoretype JKS -deststorepass changeit \
		-destkeypass changeit
done

# The IDM trap: a JCEKS whose key password differs from its store password.
KP=(-keystore keystore-keypass.jceks -storetype JCEKS -storepass changeit -keypass keypass1)
kt -genseckey -alias hmac-keypass -keyalg HmacSHA256 -keysize 256 "${KP[@]}"
kt -genkeypair -alias rsa-keypass -keyalg RSA -keysize 2048 -validity 3650 \
	-dname 'CN=rsa-keypass, O=secretstores test' "${KP[@]}"

printf 'hunter2pw\nhunter2pw\n' | kt -importpass -alias idm-password -keystore importpass.jceks -storetype JCEKS \
	-storepass changeit -keypass changeit

for a in openidm-localhost selfservice; do
	kt -exportcert -alias "$a" -file "$a.cer" "${P12[@]}"
	kt -importcert -noprompt -alias "$a" -file "$a.cer" -keystore truststore.jks -storetype JKS -storepass changeit
	kt -importcert -noprompt -alias "$a" -file "$a.cer" -keystore truststore.p12 -storetype PKCS12 -storepass changeit
	rm -f "$a.cer"
done

java "$here/Dump.java" expected.json \
	keystore.p12:PKCS12:changeit:changeit \
	keystore.jceks:JCEKS:changeit:changeit \
	keystore.jks:JKS:changeit:changeit \
	keystore-keypass.jceks:JCEKS:changeit:keypass1 \
	importpass.jceks:JCEKS:changeit:changeit \
	truststore.jks:JKS:changeit:changeit \
	truststore.p12:PKCS12:changeit:changeit
