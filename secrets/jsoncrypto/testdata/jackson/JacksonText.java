import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;

import com.fasterxml.jackson.databind.ObjectMapper;

/**
 * Records the text IDM hashes for a JSON value: the value read as IDM's JsonValue holds it
 * (ObjectMapper.readValue(text, Object.class): LinkedHashMap, ArrayList, Integer, Long,
 * BigInteger, Double, String, Boolean) and written with Jackson's default pretty printer.
 *
 * Usage: java -cp jackson-core.jar:jackson-databind.jar:jackson-annotations.jar:. JacksonText in.json out.json
 * in.json is an array of JSON texts (strings); out.json is an array of {"in", "out"}.
 */
public class JacksonText {
    public static void main(String[] args) throws Exception {
        ObjectMapper m = new ObjectMapper();
        String[] inputs = m.readValue(Files.readString(Path.of(args[0]), StandardCharsets.UTF_8), String[].class);
        List<Map<String, Object>> out = new ArrayList<>();
        for (String in : inputs) {
            Object v = m.readValue(in, Object.class);
            Map<String, Object> rec = new LinkedHashMap<>();
            rec.put("in", in);
            rec.put("out", m.writerWithDefaultPrettyPrinter().writeValueAsString(v));
            out.add(rec);
        }
        Files.writeString(Path.of(args[1]), m.writerWithDefaultPrettyPrinter().writeValueAsString(out) + "\n", StandardCharsets.UTF_8);
        System.out.println("jackson " + com.fasterxml.jackson.databind.cfg.PackageVersion.VERSION + ", java " + System.getProperty("java.version"));
    }
}
