// Harness drives SunPKCS11 for hsmstore's interop tests (run with "java Harness.java"):
//   java Harness.java <sunpkcs11.cfg> <pin> <message> op:alias ...
// ops: list (aliases with their entry type), mac (HmacSHA256 hex), enc (getEncoded hex),
// rsa (SHA256withRSA signature hex), ec (SHA256withECDSA signature hex),
// verifyrsa:alias:sighex, verifyec:alias:sighex.
import java.security.*;
import java.security.cert.Certificate;
import javax.crypto.*;
import java.util.*;

public class Harness {
    public static void main(String[] a) throws Exception {
        Provider p = Security.getProvider("SunPKCS11").configure(a[0]);
        Security.addProvider(p);
        KeyStore ks = KeyStore.getInstance("PKCS11", p);
        char[] pin = a[1].toCharArray();
        ks.load(null, pin);
        byte[] msg = a[2].getBytes("UTF-8");
        HexFormat hf = HexFormat.of();
        for (int i = 3; i < a.length; i++) {
            String[] op = a[i].split(":", 3);
            String alias = op.length > 1 ? op[1] : "";
            switch (op[0]) {
                case "list":
                    for (String s : Collections.list(ks.aliases())) {
                        String t = ks.isKeyEntry(s) ? (ks.getKey(s, pin) instanceof PrivateKey ? "private" : "secret") : "trusted";
                        System.out.println("alias " + s + " " + t);
                    }
                    break;
                case "mac": {
                    Mac m = Mac.getInstance("HmacSHA256", p);
                    m.init(ks.getKey(alias, pin));
                    System.out.println("mac " + alias + " " + hf.formatHex(m.doFinal(msg)));
                    break;
                }
                case "enc":
                    System.out.println("enc " + alias + " " + hf.formatHex(ks.getKey(alias, pin).getEncoded()));
                    break;
                case "rsa":
                case "ec": {
                    Signature s = Signature.getInstance(op[0].equals("rsa") ? "SHA256withRSA" : "SHA256withECDSA", p);
                    s.initSign((PrivateKey) ks.getKey(alias, pin));
                    s.update(msg);
                    System.out.println(op[0] + " " + alias + " " + hf.formatHex(s.sign()));
                    break;
                }
                case "verifyrsa":
                case "verifyec": {
                    Signature s = Signature.getInstance(op[0].equals("verifyrsa") ? "SHA256withRSA" : "SHA256withECDSA");
                    Certificate c = ks.getCertificate(alias);
                    s.initVerify(c.getPublicKey());
                    s.update(msg);
                    System.out.println(op[0] + " " + alias + " " + s.verify(hf.parseHex(op[2])));
                    break;
                }
                default:
                    throw new IllegalArgumentException(op[0]);
            }
        }
    }
}
