// JavaBench measures SunPKCS11 throughput for hsmstore's BenchmarkJavaSunPKCS11 and
// BenchmarkInterleaved. It is compiled at test time (javac) and runs as one long-lived JVM:
//
//   java -cp <dir> JavaBench <sunpkcs11.cfg> <pin> <hmac-alias> <rsa-alias> <message-hex> <rsa-input-hex>
//
// It prints "ready" once the keys are found and the JIT is warm, then reads commands on
// stdin, one a line, "<op> <threads> <n>" (op hmac or rsa), runs n operations in total
// spread over threads threads (each with its own Mac or Signature, as a service holds them),
// and prints "<op> <threads> <n> <elapsed-ns> <cpu-ns>" (cpu-ns: the JVM process's user and
// system CPU time during the run). The command "check" prints "check <hmac-hex>
// <signature-hex>" (one HMAC and one signature), so that the caller can see that Java uses
// the same keys and message as the Go side. EOF ends it.
//
// The call shape per operation is hsmstore's: HMAC-SHA256 of the message with the token key
// (Mac.doFinal: C_SignInit, C_SignUpdate, C_SignFinal), and RSA PKCS#1 v1.5 of a
// DigestInfo-prefixed SHA-256 digest (NONEwithRSA: C_SignInit, C_Sign of CKM_RSA_PKCS), so
// the token does the same work as for Secret.MAC and Secret.Sign.
import java.io.*;
import java.lang.management.ManagementFactory;
import java.security.*;
import java.util.*;
import java.util.concurrent.*;
import java.util.function.LongSupplier;
import javax.crypto.*;

public class JavaBench {
    interface Op { void run() throws Exception; }

    static Provider p;
    static Key hmacKey;
    static PrivateKey rsaKey;
    static byte[] msg, rsaIn;

    static Op newOp(String op) throws Exception {
        switch (op) {
            case "hmac": {
                Mac m = Mac.getInstance("HmacSHA256", p);
                m.init(hmacKey);
                return () -> { if (m.doFinal(msg).length != 32) throw new IllegalStateException("tag"); };
            }
            case "rsa": {
                Signature s = Signature.getInstance("NONEwithRSA", p);
                return () -> {
                    s.initSign(rsaKey);
                    s.update(rsaIn);
                    if (s.sign().length != 256) throw new IllegalStateException("sig");
                };
            }
        }
        throw new IllegalArgumentException(op);
    }

    public static void main(String[] a) throws Exception {
        p = Security.getProvider("SunPKCS11").configure(a[0]);
        Security.addProvider(p);
        KeyStore ks = KeyStore.getInstance("PKCS11", p);
        char[] pin = a[1].toCharArray();
        ks.load(null, pin);
        hmacKey = ks.getKey(a[2], pin);
        rsaKey = (PrivateKey) ks.getKey(a[3], pin);
        if (hmacKey == null || rsaKey == null) throw new IllegalStateException("keys " + a[2] + ", " + a[3] + " not found");
        HexFormat hf = HexFormat.of();
        msg = hf.parseHex(a[4]);
        rsaIn = hf.parseHex(a[5]);
        LongSupplier cpu = JavaBench::processCpu;

        // Two workers, each keeping one Mac and one Signature.
        ExecutorService pool = Executors.newFixedThreadPool(2);
        ThreadLocal<Map<String, Op>> ops = ThreadLocal.withInitial(HashMap::new);

        // Warm the JIT up so that the measured runs are steady.
        run(pool, ops, "hmac", 2, 20000);
        run(pool, ops, "rsa", 2, 200);
        System.out.println("ready");
        System.out.flush();

        BufferedReader in = new BufferedReader(new InputStreamReader(System.in));
        for (String line; (line = in.readLine()) != null; ) {
            String[] f = line.trim().split(" ");
            if (f[0].equals("check")) {
                Mac m = Mac.getInstance("HmacSHA256", p);
                m.init(hmacKey);
                Signature s = Signature.getInstance("NONEwithRSA", p);
                s.initSign(rsaKey);
                s.update(rsaIn);
                System.out.println("check " + hf.formatHex(m.doFinal(msg)) + " " + hf.formatHex(s.sign()));
                System.out.flush();
                continue;
            }
            if (f.length != 3) throw new IllegalArgumentException(line);
            int threads = Integer.parseInt(f[1]);
            long n = Long.parseLong(f[2]);
            long cpu0 = cpu.getAsLong();
            long ns = run(pool, ops, f[0], threads, n);
            System.out.println(f[0] + " " + threads + " " + n + " " + ns + " " + (cpu.getAsLong() - cpu0));
            System.out.flush();
        }
        pool.shutdownNow();
    }

    // processCpu is the JVM's CPU time in ns: the sum over its threads of the scheduler's
    // run time (/proc/self/task/*/schedstat, ns precision), else getProcessCpuTime (whose
    // resolution on Linux is a clock tick, 10 ms).
    static long processCpu() {
        File[] tasks = new File("/proc/self/task").listFiles();
        if (tasks != null) {
            long t = 0;
            for (File d : tasks) {
                try {
                    String s = new String(java.nio.file.Files.readAllBytes(new File(d, "schedstat").toPath()));
                    t += Long.parseLong(s.substring(0, s.indexOf(' ')));
                } catch (IOException | RuntimeException e) {
                    // A thread that ended meanwhile.
                }
            }
            if (t > 0) return t;
        }
        return ((com.sun.management.OperatingSystemMXBean) ManagementFactory.getOperatingSystemMXBean()).getProcessCpuTime();
    }

    static long run(ExecutorService pool, ThreadLocal<Map<String, Op>> ops, String op, int threads, long n) throws Exception {
        if (threads < 1 || threads > 2) throw new IllegalArgumentException("threads " + threads);
        List<Callable<Void>> tasks = new ArrayList<>();
        for (int t = 0; t < threads; t++) {
            long share = n / threads + (t < n % threads ? 1 : 0);
            tasks.add(() -> {
                Op o = ops.get().computeIfAbsent(op, k -> {
                    try { return newOp(k); } catch (Exception e) { throw new RuntimeException(e); }
                });
                for (long i = 0; i < share; i++) o.run();
                return null;
            });
        }
        long start = System.nanoTime();
        for (Future<Void> f : pool.invokeAll(tasks)) f.get();
        return System.nanoTime() - start;
    }
}
