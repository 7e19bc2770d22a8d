import java.lang.reflect.*;
import java.util.*;
public class DumpNames {
  public static void main(String[] a) throws Exception {
    Class<?> c = Class.forName("sun.security.pkcs11.wrapper.Functions");
    for (String f : new String[]{"mechIds","keyIds","attributeIds","objectClassIds"}) {
      Field fl = c.getDeclaredField(f); fl.setAccessible(true);
      Map<String,Integer> m = (Map<String,Integer>) fl.get(null);
      for (Map.Entry<String,Integer> e : new TreeMap<>(m).entrySet())
        System.out.printf("%s %s 0x%x%n", f, e.getKey(), e.getValue().intValue() & 0xffffffffL);
    }
  }
}
