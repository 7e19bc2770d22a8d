import java.io.File;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Paths;
import java.security.KeyStore;
import java.util.Collections;
import java.util.List;

/**
 * LoadAll DIR: for each line "file TAB store password TAB key password" of DIR/manifest.tsv,
 * KeyStore.getInstance(File, password) (which loads it) and getKey of every key entry.
 * Prints one line per failure and exits 1 if any file fails.
 */
public class LoadAll {
    public static void main(String[] args) throws Exception {
        List<String> lines = Files.readAllLines(Paths.get(args[0], "manifest.tsv"), StandardCharsets.UTF_8);
        int failed = 0, entries = 0;
        for (String line : lines) {
            String[] f = line.split("\t", -1);
            try {
                KeyStore ks = KeyStore.getInstance(new File(args[0], f[0]), f[1].toCharArray());
                for (String a : Collections.list(ks.aliases())) {
                    entries++;
                    if (ks.isKeyEntry(a) && ks.getKey(a, f[2].toCharArray()) == null) {
                        throw new Exception("alias " + a + ": no key");
                    }
                    if (ks.isCertificateEntry(a) && ks.getCertificate(a) == null) {
                        throw new Exception("alias " + a + ": no certificate");
                    }
                }
            } catch (Exception e) {
                failed++;
                System.out.println(f[0] + ": " + e);
            }
        }
        System.out.println("LoadAll: " + lines.size() + " files, " + entries + " entries, " + failed + " failed");
        System.exit(failed == 0 ? 0 : 1);
    }
}
