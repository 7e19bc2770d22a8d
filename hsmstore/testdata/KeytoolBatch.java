// KeytoolBatch runs keytool (sun.security.tools.keytool.Main, the class behind the keytool
// command) once per group of arguments, groups separated by "--", in one JVM: hsmstore's
// tests run several keytool commands on one SunPKCS11 configuration, and a JVM start costs
// seconds. After each command the SunPKCS11 providers it installed are removed, so that the
// next command's -providerArg configuration is the one its PKCS11 key store comes from.
// keytool exits the JVM with status 1 on the first command that fails.
//   java --add-exports java.base/sun.security.tools.keytool=ALL-UNNAMED KeytoolBatch.java \
//     -genseckey -alias a ... -- -genkeypair -alias b ...
import java.util.ArrayList;
import java.util.List;

public class KeytoolBatch {
    public static void main(String[] a) throws Exception {
        List<String> cur = new ArrayList<>();
        for (int i = 0; i <= a.length; i++) {
            if (i < a.length && !a[i].equals("--")) {
                cur.add(a[i]);
                continue;
            }
            if (!cur.isEmpty()) {
                System.out.println("keytool " + cur.get(0));
                sun.security.tools.keytool.Main.main(cur.toArray(new String[0]));
                for (java.security.Provider p : java.security.Security.getProviders()) {
                    if (p.getName().startsWith("SunPKCS11-")) {
                        java.security.Security.removeProvider(p.getName());
                    }
                }
            }
            cur.clear();
        }
    }
}
