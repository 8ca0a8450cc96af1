package io.tributary.loadtest;

import java.io.IOException;
import java.io.Reader;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.Iterator;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Locale;
import java.util.Map;
import java.util.concurrent.ThreadLocalRandom;
import java.util.concurrent.atomic.AtomicLong;
import org.yaml.snakeyaml.Yaml;

/**
 * Request bodies generated from a pipeline file's schema, for the Gatling simulations. Each string
 * field gets the upper-cased first letter of its name and a number below {@code cardinality}
 * ({@code card_id} -> {@code C123}, {@code merchant_id} -> {@code M42}: the demo reference data's
 * keys), numbers are amounts, the time field is now. A share of events is made invalid (a required
 * field dropped) so rejection paths carry load too. Settings are -D properties:
 * {@code pipeline} (../examples/payments.yaml), {@code mode} (single | array | ndjson),
 * {@code batch} (100), {@code invalid} (0.0), {@code cardinality} (100000).
 */
final class SchemaEvents implements Iterator<Map<String, Object>> {

  private record Field(String name, String type, boolean required) {
  }

  private final List<Field> fields = new ArrayList<>();
  private final String idField;
  private final String timeField;
  private final String mode = System.getProperty("mode", "ndjson");
  private final int batch = Integer.getInteger("batch", 100);
  private final double invalid = Double.parseDouble(System.getProperty("invalid", "0.0"));
  private final int cardinality = Integer.getInteger("cardinality", 100_000);
  private final AtomicLong sequence = new AtomicLong();
  private final String run = Long.toString(System.currentTimeMillis(), 36);

  @SuppressWarnings("unchecked")
  SchemaEvents() {
    Path file = Path.of(System.getProperty("pipeline", "../examples/payments.yaml"));
    Map<String, Object> pipeline;
    try (Reader reader = Files.newBufferedReader(file)) {
      pipeline = new Yaml().load(reader);
    } catch (IOException e) {
      throw new IllegalStateException("cannot read the pipeline file " + file.toAbsolutePath() + " (-Dpipeline=...)", e);
    }
    Map<String, Object> schema = (Map<String, Object>) pipeline.get("schema");
    idField = String.valueOf(schema.get("id"));
    timeField = schema.get("time") == null ? null : String.valueOf(schema.get("time"));
    Map<String, Object> declared = (Map<String, Object>) schema.get("fields");
    declared.forEach((name, spec) -> {
      if (spec instanceof Map<?, ?> m) {
        fields.add(new Field(name, String.valueOf(m.get("type")), !Boolean.FALSE.equals(m.get("required"))));
      } else {
        fields.add(new Field(name, String.valueOf(spec), true));
      }
    });
  }

  String contentType() {
    return "ndjson".equals(mode) ? "application/x-ndjson" : "application/json";
  }

  @Override
  public boolean hasNext() {
    return true;
  }

  @Override
  public Map<String, Object> next() {
    int count = "single".equals(mode) ? 1 : batch;
    StringBuilder body = new StringBuilder(count * 128);
    if ("array".equals(mode)) {
      body.append('[');
    }
    for (int i = 0; i < count; i++) {
      if (i > 0) {
        body.append("array".equals(mode) ? "," : "\n");
      }
      body.append(event());
    }
    if ("array".equals(mode)) {
      body.append(']');
    }
    return Map.of("body", body.toString(), "events", count);
  }

  private String event() {
    ThreadLocalRandom random = ThreadLocalRandom.current();
    Map<String, Object> event = new LinkedHashMap<>();
    event.put(idField, run + "-" + sequence.incrementAndGet());
    boolean broken = random.nextDouble() < invalid;
    Field dropped = broken ? fields.stream().filter(f -> f.required() && !f.name().equals(idField)).findFirst().orElse(null) : null;
    for (Field f : fields) {
      if (f.name().equals(idField) || f == dropped || (!f.required() && random.nextBoolean())) {
        continue;
      }
      event.put(f.name(), switch (f.type()) {
        case "number" -> Math.round(random.nextDouble(1, 500) * 100) / 100.0;
        case "integer" -> random.nextInt(1000);
        case "boolean" -> random.nextBoolean();
        case "timestamp" -> System.currentTimeMillis();
        default -> Character.toUpperCase(f.name().charAt(0)) + String.valueOf(random.nextInt(cardinality));
      });
    }
    if (timeField != null) {
      event.put(timeField, System.currentTimeMillis());
    }
    StringBuilder json = new StringBuilder("{");
    event.forEach((k, v) -> {
      if (json.length() > 1) {
        json.append(',');
      }
      json.append('"').append(k).append("\":");
      json.append(v instanceof String s ? "\"" + s + "\"" : String.format(Locale.ROOT, "%s", v));
    });
    return json.append('}').toString();
  }
}
