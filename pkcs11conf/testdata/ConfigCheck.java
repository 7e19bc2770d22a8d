// ConfigCheck feeds SunPKCS11 configuration files to the JDK's own parser,
// sun.security.pkcs11.Config (needs --add-opens jdk.crypto.cryptoki/sun.security.pkcs11=ALL-UNNAMED),
// which does not load the PKCS#11 library, and prints one line per file:
//   OK <file> <provider name>
//   ERR <file> <message>
// With -configure, it calls Security.getProvider("SunPKCS11").configure(file) instead, which
// also loads the library and opens the slot.
import java.lang.reflect.Constructor;
import java.lang.reflect.InvocationTargetException;
import java.lang.reflect.Method;
import java.security.Provider;
import java.security.Security;

public class ConfigCheck {
    public static void main(String[] args) throws Exception {
        boolean configure = args.length > 0 && args[0].equals("-configure");
        Class<?> c = Class.forName("sun.security.pkcs11.Config");
        Constructor<?> ctor = c.getDeclaredConstructor(String.class);
        ctor.setAccessible(true);
        Method getName = c.getDeclaredMethod("getName");
        getName.setAccessible(true);
        for (int i = configure ? 1 : 0; i < args.length; i++) {
            String f = args[i];
            try {
                String name;
                if (configure) {
                    Provider p = Security.getProvider("SunPKCS11").configure(f);
                    name = p.getName();
                } else {
                    Object cfg = ctor.newInstance(f);
                    name = "SunPKCS11-" + getName.invoke(cfg);
                }
                System.out.println("OK " + f + " " + name.replace('\n', ' '));
            } catch (Throwable t) {
                if (t instanceof InvocationTargetException) {
                    t = t.getCause();
                }
                StringBuilder sb = new StringBuilder();
                for (Throwable x = t; x != null; x = x.getCause()) {
                    sb.append(x.getClass().getName()).append(": ").append(x.getMessage()).append(" / ");
                }
                System.out.println("ERR " + f + " " + sb.toString().replace('\n', ' ').replace('\r', ' '));
            }
        }
    }
}
