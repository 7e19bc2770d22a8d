// Dump.java — writes what Java reads from keystore files as JSON, the expected values of the
// filestore tests. Run by gen-fixtures.sh with the JDK's single-file launcher:
//
//   java Dump.java OUT.json FILE:TYPE:STOREPASS:KEYPASS ...
//
// Per alias: kind (AES, secret for any other secret key, RSA, EC, certificate), Java algorithm name, creation time
// (epoch ms; absent for PKCS12 trusted certificates, which store none), and
//   secret keys:  the raw key (hex) and HMAC-SHA256 under it over the 64 bytes 00 01 .. 3f;
//   key pairs:    SHA-256 of the PKCS#8 encoding, of the SubjectPublicKeyInfo, of each
//                 certificate DER (leaf first), and a signature over 00 .. 3f (SHA256withRSA,
//                 deterministic; SHA256withECDSA, randomised: verify it with the public key);
//   certificates: SHA-256 of the DER and of the SubjectPublicKeyInfo.
import java.io.FileInputStream;
import java.io.InputStream;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.security.Key;
import java.security.KeyStore;
import java.security.MessageDigest;
import java.security.PrivateKey;
import java.security.Signature;
import java.security.cert.Certificate;
import java.util.ArrayList;
import java.util.Collections;
import java.util.HexFormat;
import java.util.List;
import javax.crypto.Mac;
import javax.crypto.SecretKey;

public class Dump {
    static final HexFormat HEX = HexFormat.of();

    static String sha256(byte[] b) throws Exception {
        return HEX.formatHex(MessageDigest.getInstance("SHA-256").digest(b));
    }

    static String q(String s) {
        StringBuilder b = new StringBuilder("\"");
        for (char c : s.toCharArray()) {
            if (c == '"' || c == '\\') b.append('\\').append(c);
            else if (c < 0x20 || c > 0x7e) b.append(String.format("\\u%04x", (int) c));
            else b.append(c);
        }
        return b.append('"').toString();
    }

    public static void main(String[] args) throws Exception {
        byte[] msg = new byte[64];
        for (int i = 0; i < msg.length; i++) msg[i] = (byte) i;
        StringBuilder out = new StringBuilder("{\n");
        for (int f = 1; f < args.length; f++) {
            String[] p = args[f].split(":", 4);
            String file = p[0], type = p[1], storePass = p[2], keyPass = p[3];
            KeyStore ks = KeyStore.getInstance(type);
            try (InputStream in = new FileInputStream(file)) {
                ks.load(in, storePass.toCharArray());
            }
            out.append("  ").append(q(file)).append(": {\n");
            out.append("    \"type\": ").append(q(type)).append(",\n");
            out.append("    \"storePassword\": ").append(q(storePass)).append(",\n");
            out.append("    \"keyPassword\": ").append(q(keyPass)).append(",\n");
            out.append("    \"entries\": {\n");
            List<String> aliases = Collections.list(ks.aliases());
            Collections.sort(aliases);
            for (int a = 0; a < aliases.size(); a++) {
                String alias = aliases.get(a);
                List<String> fields = new ArrayList<>();
                // A PKCS12 trusted-certificate bag stores no date: Java reports the load time.
                if (ks.isKeyEntry(alias) || !type.equals("PKCS12")) {
                    fields.add("\"created\": " + ks.getCreationDate(alias).getTime());
                }
                if (ks.isKeyEntry(alias)) {
                    Key k = ks.getKey(alias, keyPass.toCharArray());
                    fields.add("\"algorithm\": " + q(k.getAlgorithm()));
                    if (k instanceof SecretKey) {
                        String kind = k.getAlgorithm().equalsIgnoreCase("AES") ? "AES" : "secret";
                        fields.add(0, "\"kind\": " + q(kind));
                        fields.add("\"secretHex\": " + q(HEX.formatHex(k.getEncoded())));
                        Mac mac = Mac.getInstance("HmacSHA256");
                        mac.init(new javax.crypto.spec.SecretKeySpec(k.getEncoded(), "HmacSHA256"));
                        fields.add("\"hmacSHA256\": " + q(HEX.formatHex(mac.doFinal(msg))));
                    } else {
                        PrivateKey pk = (PrivateKey) k;
                        fields.add(0, "\"kind\": " + q(pk.getAlgorithm()));
                        fields.add("\"pkcs8SHA256\": " + q(sha256(pk.getEncoded())));
                        Certificate[] chain = ks.getCertificateChain(alias);
                        fields.add("\"publicKeySHA256\": " + q(sha256(chain[0].getPublicKey().getEncoded())));
                        List<String> cs = new ArrayList<>();
                        for (Certificate c : chain) cs.add(q(sha256(c.getEncoded())));
                        fields.add("\"chainSHA256\": [" + String.join(", ", cs) + "]");
                        String sigAlg = pk.getAlgorithm().equals("EC") ? "SHA256withECDSA" : "SHA256withRSA";
                        Signature s = Signature.getInstance(sigAlg);
                        s.initSign(pk);
                        s.update(msg);
                        fields.add("\"signatureAlgorithm\": " + q(sigAlg));
                        fields.add("\"signatureHex\": " + q(HEX.formatHex(s.sign())));
                    }
                } else {
                    Certificate c = ks.getCertificate(alias);
                    fields.add(0, "\"kind\": \"certificate\"");
                    fields.add("\"publicKeySHA256\": " + q(sha256(c.getPublicKey().getEncoded())));
                    fields.add("\"chainSHA256\": [" + q(sha256(c.getEncoded())) + "]");
                }
                out.append("      ").append(q(alias)).append(": {")
                   .append(String.join(", ", fields)).append("}")
                   .append(a + 1 < aliases.size() ? ",\n" : "\n");
            }
            out.append("    }\n  }").append(f + 1 < args.length ? ",\n" : "\n");
        }
        out.append("}\n");
        Files.write(Path.of(args[0]), out.toString().getBytes(StandardCharsets.UTF_8));
    }
}
