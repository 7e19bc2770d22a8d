// IDMCheck uses keys on a PKCS#11 token through Java's SunPKCS11, as IDM does, for
// p11keytool's tests (run with "java IDMCheck.java <sunpkcs11.cfg> <pin> <message> op:alias ...").
// ops: list (aliases and entry types), mac (HmacSHA256 with Mac, hex), enc (getEncoded, hex),
// rsa (SHA256withRSA with Signature, hex).
import java.security.*;
import javax.crypto.*;
import java.util.*;

public class IDMCheck {
    public static void main(String[] a) throws Exception {
        Provider p = Security.getProvider("SunPKCS11").configure(a[0]);
        Security.addProvider(p);
        KeyStore ks = KeyStore.getInstance("PKCS11", p);
        char[] pin = a[1].toCharArray();
        ks.load(null, pin);
        byte[] msg = a[2].getBytes("UTF-8");
        HexFormat hf = HexFormat.of();
        for (int i = 3; i < a.length; i++) {
            String[] op = a[i].split(":", 2);
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
                case "rsa": {
                    Signature s = Signature.getInstance("SHA256withRSA", p);
                    s.initSign((PrivateKey) ks.getKey(alias, pin));
                    s.update(msg);
                    System.out.println("rsa " + alias + " " + hf.formatHex(s.sign()));
                    break;
                }
                default:
                    throw new IllegalArgumentException(op[0]);
            }
        }
    }
}
