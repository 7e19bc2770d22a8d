import java.io.File;
import java.io.FileInputStream;
import java.math.BigInteger;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Paths;
import java.security.Key;
import java.security.KeyStore;
import java.security.MessageDigest;
import java.security.cert.Certificate;
import java.security.interfaces.DSAPrivateKey;
import java.security.interfaces.ECPrivateKey;
import java.security.interfaces.RSAPrivateKey;
import java.util.ArrayList;
import java.util.Collections;
import java.util.List;

/**
 * Truth DIR MANIFEST OUT.json: what JDK 17 reads from each keystore of the corpus.
 * Per file: the type KeyStore.getInstance(File, password) detects, or the exception;
 * per alias (as KeyStore.aliases() reports it): the entry type, the key's algorithm and a
 * digest of its value (SHA-256 of the lower-case hex of: RSA d, EC s, DSA x, or the secret
 * key's bytes), or the exception getKey throws with the key password, and the SHA-256 of
 * each certificate of the chain in the order Java returns it.
 */
public class Truth {
    static String q(String s) {
        StringBuilder b = new StringBuilder("\"");
        for (char c : s.toCharArray()) {
            if (c == '"' || c == '\\') b.append('\\').append(c);
            else if (c < 0x20 || c > 0x7e) b.append(String.format("\\u%04x", (int) c));
            else b.append(c);
        }
        return b.append('"').toString();
    }

    static String hex(byte[] b) {
        StringBuilder s = new StringBuilder();
        for (byte x : b) s.append(String.format("%02x", x));
        return s.toString();
    }

    static String sha256(byte[] b) throws Exception {
        return hex(MessageDigest.getInstance("SHA-256").digest(b));
    }

    static String keyValue(Key k) throws Exception {
        String v;
        if (k instanceof RSAPrivateKey) v = ((RSAPrivateKey) k).getPrivateExponent().toString(16);
        else if (k instanceof ECPrivateKey) v = ((ECPrivateKey) k).getS().toString(16);
        else if (k instanceof DSAPrivateKey) v = ((DSAPrivateKey) k).getX().toString(16);
        else if (k.getEncoded() != null) v = hex(k.getEncoded());
        else return "";
        return sha256(v.getBytes(StandardCharsets.US_ASCII));
    }

    public static void main(String[] args) throws Exception {
        List<String> lines = Files.readAllLines(Paths.get(args[1]), StandardCharsets.UTF_8);
        StringBuilder out = new StringBuilder("{\n");
        boolean first = true;
        for (String line : lines) {
            String[] f = line.split("\t", -1);
            if (f.length < 3) continue;
            char[] pw = f[1].toCharArray();
            char[] kp = f[2].equals("-") ? pw : f[2].toCharArray();
            if (!first) out.append(",\n");
            first = false;
            out.append("  ").append(q(f[0])).append(": {");
            KeyStore ks;
            try {
                ks = KeyStore.getInstance(new File(args[0], f[0]), pw);
            } catch (Exception e) {
                out.append("\"javaError\": ").append(q(e.getClass().getName() + ": " + e.getMessage())).append("}");
                continue;
            }
            out.append("\"javaType\": ").append(q(ks.getType())).append(", \"entries\": [");
            List<String> aliases = Collections.list(ks.aliases());
            Collections.sort(aliases);
            boolean fe = true;
            for (String a : aliases) {
                if (!fe) out.append(",");
                fe = false;
                out.append("\n    {\"alias\": ").append(q(a));
                Certificate[] chain = null;
                if (ks.isKeyEntry(a)) {
                    try {
                        Key k = ks.getKey(a, kp);
                        out.append(", \"type\": ").append(q(k instanceof javax.crypto.SecretKey ? "secret" : "private"));
                        out.append(", \"keyAlg\": ").append(q(k.getAlgorithm()));
                        out.append(", \"keyValue\": ").append(q(keyValue(k)));
                    } catch (Exception e) {
                        out.append(", \"type\": \"key\", \"keyError\": ").append(q(e.getClass().getName()));
                    }
                    chain = ks.getCertificateChain(a);
                } else if (ks.isCertificateEntry(a)) {
                    out.append(", \"type\": \"trusted\"");
                    chain = new Certificate[] {ks.getCertificate(a)};
                }
                out.append(", \"chain\": [");
                if (chain != null) {
                    for (int i = 0; i < chain.length; i++) {
                        out.append(i > 0 ? ", " : "").append(q(sha256(chain[i].getEncoded())));
                    }
                }
                out.append("]}");
            }
            out.append("\n  ]}");
        }
        out.append("\n}\n");
        Files.write(Paths.get(args[2]), out.toString().getBytes(StandardCharsets.UTF_8));
    }
}
