// An independent implementation of ForgeRock json-crypto's x-simple-encryption (2016) and
// OpenIDM's salted-hash, written from the algorithm's description with JCE primitives only
// (Mac "HmacSHA256", Cipher "AES/CBC/PKCS5Padding", MessageDigest), for jsoncrypto's
// cross-check. HKDF (RFC 5869) is written out over Mac.
//
// Reads commands from stdin, one per line, tab-separated, binary and text arguments in hex;
// writes one line per command: "OK\t<result>" or "ERR\t<message>".
//
//   dec    <keyHex> <envelopeHex> <keySize>      -> OK <plaintextHex>  (keySize used when the
//                                                   value has no "keySize")
//   enc    <keyHex> <alias> <purpose> <plaintextHex> <idm|2016> <keySize> -> OK <envelope JSON>
//   legacy <keyHex> <alias> <plaintextHex>        -> OK <envelope JSON>  (pre-2016: no salt/mac)
//   hash   <algorithm> <plaintextHex(UTF-8)>      -> OK <envelope JSON>  (OpenIDM 5.x hashField)
import java.io.BufferedReader;
import java.io.InputStreamReader;
import java.nio.charset.StandardCharsets;
import java.security.MessageDigest;
import java.security.SecureRandom;
import java.util.Arrays;
import java.util.Base64;
import java.util.LinkedHashMap;
import java.util.Map;
import java.util.TreeMap;
import javax.crypto.Cipher;
import javax.crypto.Mac;
import javax.crypto.spec.IvParameterSpec;
import javax.crypto.spec.SecretKeySpec;

public class SimpleCrypto {
    static final SecureRandom RANDOM = new SecureRandom();

    public static void main(String[] args) throws Exception {
        BufferedReader in = new BufferedReader(new InputStreamReader(System.in, StandardCharsets.UTF_8));
        StringBuilder out = new StringBuilder();
        String line;
        while ((line = in.readLine()) != null) {
            if (line.isEmpty()) continue;
            String[] f = line.split("\t", -1);
            try {
                String result;
                switch (f[0]) {
                    case "dec": result = hex(dec(unhex(f[1]), new String(unhex(f[2]), StandardCharsets.UTF_8), Integer.parseInt(f[3]))); break;
                    case "enc": result = enc(unhex(f[1]), f[2], f[3], unhex(f[4]), f[5], Integer.parseInt(f[6])); break;
                    case "legacy": result = legacy(unhex(f[1]), f[2], unhex(f[3])); break;
                    case "hash": result = hash(f[1], new String(unhex(f[2]), StandardCharsets.UTF_8)); break;
                    default: throw new IllegalArgumentException("unknown command");
                }
                out.append("OK\t").append(result);
            } catch (Exception e) {
                out.append("ERR\t").append(e.getClass().getSimpleName()).append(": ").append(String.valueOf(e.getMessage()).replace('\n', ' ').replace('\t', ' '));
            }
            out.append('\n');
        }
        System.out.print(out);
        System.out.flush();
    }

    // HKDF-Extract: PRK = HMAC-SHA256(salt, ikm); an empty salt is 32 zero bytes.
    static byte[] extract(byte[] ikm, byte[] salt) throws Exception {
        if (salt == null || salt.length == 0) salt = new byte[32];
        Mac mac = Mac.getInstance("HmacSHA256");
        mac.init(new SecretKeySpec(salt, "HmacSHA256"));
        return mac.doFinal(ikm);
    }

    // HKDF-Expand: T(i) = HMAC(PRK, T(i-1) || info || i).
    static byte[] expand(byte[] prk, String info, int len) throws Exception {
        Mac mac = Mac.getInstance("HmacSHA256");
        mac.init(new SecretKeySpec(prk, "HmacSHA256"));
        byte[] out = new byte[len];
        byte[] t = new byte[0];
        int pos = 0;
        for (int i = 1; pos < len; i++) {
            mac.update(t);
            mac.update(info.getBytes(StandardCharsets.UTF_8));
            mac.update((byte) i);
            t = mac.doFinal();
            int n = Math.min(t.length, len - pos);
            System.arraycopy(t, 0, out, pos, n);
            pos += n;
        }
        return out;
    }

    @SuppressWarnings("unchecked")
    static void macUpdate(Mac mac, Map<String, Object> m) {
        for (Map.Entry<String, Object> e : new TreeMap<>(m).entrySet()) {
            mac.update(e.getKey().getBytes(StandardCharsets.UTF_8));
            if (e.getValue() instanceof Map) {
                macUpdate(mac, (Map<String, Object>) e.getValue());
            } else {
                mac.update(e.getValue().toString().getBytes(StandardCharsets.UTF_8));
            }
        }
    }

    static byte[] mac(byte[] macKey, Map<String, Object> fields) throws Exception {
        Mac mac = Mac.getInstance("HmacSHA256");
        mac.init(new SecretKeySpec(macKey, "HmacSHA256"));
        macUpdate(mac, fields);
        return Arrays.copyOf(mac.doFinal(), 16);
    }

    @SuppressWarnings("unchecked")
    static byte[] dec(byte[] key, String envelope, int defaultKeySize) throws Exception {
        Map<String, Object> root = (Map<String, Object>) new Json(envelope).value();
        Map<String, Object> crypto = (Map<String, Object>) root.get("$crypto");
        if (!"x-simple-encryption".equals(crypto.get("type"))) throw new IllegalArgumentException("type");
        Map<String, Object> v = (Map<String, Object>) crypto.get("value");
        Base64.Decoder b64 = Base64.getDecoder();
        byte[] encKey = key;
        if (v.containsKey("salt")) {
            byte[] prk = extract(key, b64.decode((String) v.get("salt")));
            Map<String, Object> fields = new TreeMap<>(v);
            fields.remove("mac");
            if (!MessageDigest.isEqual(b64.decode((String) v.get("mac")), mac(expand(prk, "HmacSHA256", 32), fields))) {
                throw new SecurityException("Invalid tag");
            }
            int size = v.containsKey("keySize") ? ((Number) v.get("keySize")).intValue() : defaultKeySize;
            encKey = expand(prk, "AES", size);
        }
        Cipher c = Cipher.getInstance((String) v.get("cipher"));
        c.init(Cipher.DECRYPT_MODE, new SecretKeySpec(encKey, "AES"), new IvParameterSpec(b64.decode((String) v.get("iv"))));
        return c.doFinal(b64.decode((String) v.get("data")));
    }

    static String enc(byte[] key, String alias, String purpose, byte[] plaintext, String format, int keySize) throws Exception {
        byte[] salt = new byte[16];
        RANDOM.nextBytes(salt);
        byte[] prk = extract(key, salt);
        Cipher c = Cipher.getInstance("AES/CBC/PKCS5Padding");
        c.init(Cipher.ENCRYPT_MODE, new SecretKeySpec(expand(prk, "AES", keySize), "AES"));
        Base64.Encoder b64 = Base64.getEncoder();
        Map<String, Object> v = new LinkedHashMap<>();
        v.put("cipher", "AES/CBC/PKCS5Padding");
        if (format.equals("2016")) {
            v.put("key", alias);
        } else {
            v.put("stableId", alias);
            v.put("purpose", purpose);
            v.put("keySize", keySize);
        }
        v.put("data", b64.encodeToString(c.doFinal(plaintext)));
        v.put("iv", b64.encodeToString(c.getIV()));
        v.put("salt", b64.encodeToString(salt));
        v.put("mac", b64.encodeToString(mac(expand(prk, "HmacSHA256", 32), v)));
        return envelope("x-simple-encryption", v);
    }

    static String legacy(byte[] key, String alias, byte[] plaintext) throws Exception {
        Cipher c = Cipher.getInstance("AES/CBC/PKCS5Padding");
        c.init(Cipher.ENCRYPT_MODE, new SecretKeySpec(key, "AES"));
        Base64.Encoder b64 = Base64.getEncoder();
        Map<String, Object> v = new LinkedHashMap<>();
        v.put("cipher", "AES/CBC/PKCS5Padding");
        v.put("key", alias);
        v.put("data", b64.encodeToString(c.doFinal(plaintext)));
        v.put("iv", b64.encodeToString(c.getIV()));
        return envelope("x-simple-encryption", v);
    }

    // OpenIDM 5.x FieldStorageSchemeImpl.hashField, quirk included: only the first
    // plaintext.length() (UTF-16 units) bytes of getBytes() are hashed.
    static String hash(String algorithm, String plaintext) throws Exception {
        byte[] salt = new byte[16];
        RANDOM.nextBytes(salt);
        int n = plaintext.length();
        byte[] plainPlusSalt = new byte[n + 16];
        System.arraycopy(plaintext.getBytes(), 0, plainPlusSalt, 0, n);
        System.arraycopy(salt, 0, plainPlusSalt, n, 16);
        byte[] digest = MessageDigest.getInstance(algorithm).digest(plainPlusSalt);
        byte[] all = new byte[digest.length + 16];
        System.arraycopy(digest, 0, all, 0, digest.length);
        System.arraycopy(salt, 0, all, digest.length, 16);
        Map<String, Object> v = new LinkedHashMap<>();
        v.put("algorithm", algorithm);
        v.put("data", Base64.getEncoder().encodeToString(all));
        return envelope("salted-hash", v);
    }

    static String envelope(String type, Map<String, Object> v) {
        StringBuilder sb = new StringBuilder("{\"$crypto\":{\"type\":\"").append(type).append("\",\"value\":{");
        boolean first = true;
        for (Map.Entry<String, Object> e : v.entrySet()) {
            if (!first) sb.append(',');
            first = false;
            sb.append('"').append(e.getKey()).append("\":");
            if (e.getValue() instanceof Number) sb.append(e.getValue());
            else sb.append('"').append(e.getValue()).append('"'); // base64, ASCII aliases: no escapes needed
        }
        return sb.append("}}}").toString();
    }

    static String hex(byte[] b) {
        StringBuilder sb = new StringBuilder();
        for (byte x : b) sb.append(String.format("%02x", x));
        return sb.toString();
    }

    static byte[] unhex(String s) {
        byte[] b = new byte[s.length() / 2];
        for (int i = 0; i < b.length; i++) b[i] = (byte) Integer.parseInt(s.substring(2 * i, 2 * i + 2), 16);
        return b;
    }

    // A minimal JSON reader: objects (LinkedHashMap), strings, integers (Long), booleans.
    static final class Json {
        final String s;
        int i;
        Json(String s) { this.s = s; }

        Object value() {
            ws();
            char c = s.charAt(i);
            if (c == '{') {
                i++;
                Map<String, Object> m = new LinkedHashMap<>();
                ws();
                if (s.charAt(i) == '}') { i++; return m; }
                while (true) {
                    ws();
                    String k = str();
                    ws();
                    expect(':');
                    m.put(k, value());
                    ws();
                    if (s.charAt(i) == ',') { i++; continue; }
                    expect('}');
                    return m;
                }
            }
            if (c == '"') return str();
            if (s.startsWith("true", i)) { i += 4; return Boolean.TRUE; }
            if (s.startsWith("false", i)) { i += 5; return Boolean.FALSE; }
            int st = i;
            while (i < s.length() && "-0123456789".indexOf(s.charAt(i)) >= 0) i++;
            return Long.parseLong(s.substring(st, i));
        }

        String str() {
            expect('"');
            StringBuilder sb = new StringBuilder();
            while (true) {
                char c = s.charAt(i++);
                if (c == '"') return sb.toString();
                if (c != '\\') { sb.append(c); continue; }
                char e = s.charAt(i++);
                switch (e) {
                    case 'n': sb.append('\n'); break;
                    case 't': sb.append('\t'); break;
                    case 'r': sb.append('\r'); break;
                    case 'b': sb.append('\b'); break;
                    case 'f': sb.append('\f'); break;
                    case 'u': sb.append((char) Integer.parseInt(s.substring(i, i + 4), 16)); i += 4; break;
                    default: sb.append(e);
                }
            }
        }

        void ws() { while (i < s.length() && Character.isWhitespace(s.charAt(i))) i++; }

        void expect(char c) {
            if (s.charAt(i) != c) throw new IllegalArgumentException("expected " + c + " at " + i);
            i++;
        }
    }
}
