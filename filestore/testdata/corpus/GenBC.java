import java.io.FileInputStream;
import java.io.FileOutputStream;
import java.security.KeyStore;
import java.security.Security;
import java.security.cert.Certificate;
import javax.crypto.KeyGenerator;

import org.bouncycastle.jce.provider.BouncyCastleProvider;

/**
 * GenBC SRC.p12 PASSWORD OUTDIR: copies the key entries of SRC (read with the JDK) into
 * Bouncy Castle keystores of every type BC writes, and prints one manifest line per file
 * (file, store password, key password, notes), as gen.sh expects.
 */
public class GenBC {
    public static void main(String[] args) throws Exception {
        Security.addProvider(new BouncyCastleProvider());
        char[] pw = args[1].toCharArray();
        KeyStore src = KeyStore.getInstance("PKCS12", "SUN");
        try (FileInputStream in = new FileInputStream(args[0])) {
            src.load(in, pw);
        }
        KeyGenerator kg = KeyGenerator.getInstance("AES");
        kg.init(128);
        String[][] types = {
            {"BKS", "bc.bks", "Bouncy Castle BKS"},
            {"UBER", "bc.uber", "Bouncy Castle UBER"},
            {"BCFKS", "bc.bcfks", "Bouncy Castle BCFKS"},
            {"PKCS12", "bc-ber.p12", "Bouncy Castle PKCS12 (BER)"},
            {"PKCS12-DEF", "bc-def.p12", "Bouncy Castle PKCS12-DEF (DER)"},
            {"PKCS12-3DES-3DES", "bc-3des.p12", "Bouncy Castle PKCS12, 3DES certs and keys (BER)"},
        };
        for (String[] t : types) {
            KeyStore ks = KeyStore.getInstance(t[0], "BC");
            ks.load(null, null);
            for (String alias : java.util.Collections.list(src.aliases())) {
                if (src.isKeyEntry(alias)) {
                    Certificate[] chain = src.getCertificateChain(alias);
                    ks.setKeyEntry(alias, src.getKey(alias, pw), pw, chain);
                    ks.setCertificateEntry("trusted-root", chain[chain.length - 1]);
                }
            }
            if (t[0].equals("BKS") || t[0].equals("UBER") || t[0].equals("BCFKS")) {
                ks.setKeyEntry("aes", kg.generateKey(), pw, null);
            }
            try (FileOutputStream out = new FileOutputStream(args[2] + "/" + t[1])) {
                ks.store(out, pw);
            }
            System.out.println(t[1] + "\t" + args[1] + "\t-\t" + t[2]);
        }
    }
}
