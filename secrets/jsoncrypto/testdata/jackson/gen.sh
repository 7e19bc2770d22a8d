#!/bin/sh
# Re-records jackson_text.json: the text Jackson (Debian libjackson2-databind-java, the
# library IDM serialises JSON with) writes for each JSON text in inputs.json, with its
# default pretty printer. Needs javac and the Debian Jackson jars.
set -eu
cd "$(dirname "$0")"
cp=""
for j in jackson-core jackson-databind jackson-annotations; do
  f="$(ls /usr/share/java/$j.jar 2>/dev/null || true)"
  [ -n "$f" ] || { echo "gen.sh: $j.jar not found: apt-get install libjackson2-databind-java" >&2; exit 1; }
  cp="$cp$f:"
done
tmp="$(mktemp -d)"
trap 'rm -rf "$tmp"' EXIT
javac -d "$tmp" -cp "$cp" JacksonText.java
java -cp "$cp$tmp" JacksonText inputs.json jackson_text.json
