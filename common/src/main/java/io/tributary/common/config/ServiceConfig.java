package io.tributary.common.config;

import java.io.IOException;
import java.io.Reader;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Locale;
import java.util.Map;
import java.util.Set;
import java.util.TreeMap;
import org.yaml.snakeyaml.LoaderOptions;
import org.yaml.snakeyaml.Yaml;

/**
 * A service's connection settings: a small YAML file, then environment variables on top. Every key
 * {@code a.bC} can be overridden by {@code TRIBUTARY_A_B_C} (camelCase becomes SNAKE_CASE). Secrets
 * (control token, passwords) are never read from the YAML file, only from
 * {@code TRIBUTARY_<NAME>} or from the file that {@code TRIBUTARY_<NAME>_FILE} names.
 *
 * <p>A few <em>open sections</em> ({@link #OPEN_SECTIONS}) take keys the service does not know in
 * advance, such as Kafka client properties: {@code kafka.properties.security.protocol} in the file,
 * or {@code TRIBUTARY_KAFKA_PROPERTIES_SECURITY_PROTOCOL}. Their owner ({@code KafkaProperties})
 * checks the names.
 */
public final class ServiceConfig {

  private static final Set<String> SECRET_WORDS = Set.of("password", "token", "secret", "jaas");

  /** Sections whose keys are passed on to a client library rather than known here. */
  public static final List<String> OPEN_SECTIONS = List.of(
      "kafka.properties", "kafka.producer.properties", "kafka.consumer.properties", "kafka.admin.properties");

  private final Map<String, String> values;
  private final Map<String, String> openValues;
  private final Map<String, String> env;

  private ServiceConfig(Map<String, String> values, Map<String, String> openValues, Map<String, String> env) {
    this.values = values;
    this.openValues = openValues;
    this.env = env;
  }

  /** Defaults for a stage, then the file (may be null), then the environment. */
  public static ServiceConfig load(String stage, Path file, Map<String, String> env) {
    Map<String, String> values = new TreeMap<>(defaults(stage));
    Map<String, String> openValues = new TreeMap<>();
    if (file != null) {
      flatten("", readYaml(file), values, openValues, file);
    }
    for (Map.Entry<String, String> entry : values.entrySet()) {
      String override = env.get(envName(entry.getKey()));
      if (override != null) {
        entry.setValue(override);
      }
    }
    return new ServiceConfig(values, openValues, Map.copyOf(env));
  }

  public static ServiceConfig load(String stage, Path file) {
    return load(stage, file, System.getenv());
  }

  static Map<String, String> defaults(String stage) {
    Map<String, String> d = new LinkedHashMap<>();
    d.put("instance.id", "");
    d.put("http.host", "0.0.0.0");
    d.put("http.port", switch (stage) {
      case "enrich" -> "8081";
      case "aggregate" -> "8082";
      default -> "8080";
    });
    d.put("http.bodyLimitBytes", String.valueOf(16 * 1024 * 1024));
    d.put("http.maxInFlightRequests", "64");
    d.put("kafka.bootstrapServers", "127.0.0.1:9092");
    d.put("kafka.partitions", "8");
    d.put("kafka.replicationFactor", "1");
    d.put("kafka.requestTimeoutMs", "5000");
    d.put("kafka.deliveryTimeoutMs", "10000");
    d.put("kafka.transactionTimeoutMs", "10000");
    d.put("kafka.maxPollRecords", "1000");
    d.put("kafka.maxInFlightBatches", "3");
    d.put("kafka.fetchMinBytes", "65536");
    d.put("kafka.sessionTimeoutMs", "10000");
    d.put("kafka.groupInstanceId", "");
    d.put("kafka.lingerMs", "5");
    d.put("kafka.batchSizeBytes", String.valueOf(256 * 1024));
    d.put("kafka.compression", "lz4");
    d.put("aggregate.cacheWindows", "200000");
    d.put("aggregate.maxRelayBacklog", "64");
    d.put("redis.uri", "redis://127.0.0.1:6379");
    d.put("redis.user", "");
    d.put("redis.tlsCaFile", "");
    d.put("redis.tlsVerifyHostname", "true");
    d.put("redis.maxPoolSize", "8");
    d.put("redis.maxWaitingHandlers", "32768");
    d.put("sql.url", "jdbc:mariadb://127.0.0.1:3306/tributary?createDatabaseIfNotExist=true");
    d.put("sql.user", "root");
    d.put("sql.maxPoolSize", "8");
    d.put("sql.dialect", "mariadb");
    d.put("rabbitmq.uri", "amqp://127.0.0.1:5672");
    d.put("rabbitmq.user", "guest");
    d.put("rabbitmq.streamMaxAge", "7D");
    d.put("rabbitmq.prefetch", "2000");
    d.put("cluster.enabled", "false");
    d.put("cluster.host", "127.0.0.1");
    d.put("cluster.port", "5701");
    d.put("cluster.members", "127.0.0.1");
    d.put("cluster.kubernetes", "false");
    d.put("shutdown.drainSeconds", "0");
    d.put("shutdown.graceSeconds", "20");
    d.put("control.startPaused", "false");
    if (stage.equals("fused")) {
      // One process runs the three stages, each serving its API on its own port, as the three services do.
      d.put("fused.enrichHttpPort", "8081");
      d.put("fused.aggregateHttpPort", "8082");
      // A poll feeds all three stages: larger batches share each stage's store round trips and the
      // relay's transaction among more events (docs/BENCHMARKS.md, round 9: 4,000 read 29,300/s, 1,000 24,200/s).
      d.put("kafka.maxPollRecords", "4000");
    }
    return d;
  }

  /** This configuration with one known key set to {@code value}: a stage's own port in a fused process. */
  public ServiceConfig with(String key, String value) {
    get(key);
    Map<String, String> changed = new TreeMap<>(values);
    changed.put(key, value);
    return new ServiceConfig(changed, openValues, env);
  }

  public String get(String key) {
    String value = values.get(key);
    if (value == null) {
      throw new IllegalArgumentException("unknown configuration key '" + key + "'");
    }
    return value;
  }

  public int getInt(String key) {
    String value = get(key);
    try {
      return Integer.parseInt(value.trim());
    } catch (NumberFormatException e) {
      throw new ConfigException(key + " (" + envName(key) + ") must be a whole number, got '" + value + "'");
    }
  }

  public long getLong(String key) {
    String value = get(key);
    try {
      return Long.parseLong(value.trim());
    } catch (NumberFormatException e) {
      throw new ConfigException(key + " (" + envName(key) + ") must be a whole number, got '" + value + "'");
    }
  }

  public boolean getBoolean(String key) {
    String value = get(key).trim().toLowerCase(Locale.ROOT);
    if (!value.equals("true") && !value.equals("false")) {
      throw new ConfigException(key + " (" + envName(key) + ") must be true or false, got '" + value + "'");
    }
    return Boolean.parseBoolean(value);
  }

  public List<String> getList(String key) {
    List<String> items = new ArrayList<>();
    for (String item : get(key).split(",")) {
      if (!item.isBlank()) {
        items.add(item.trim());
      }
    }
    return items;
  }

  /** The file's keys under an open section, without the section's prefix ({@code security.protocol}). */
  public Map<String, String> fileSection(String section) {
    requireOpen(section);
    Map<String, String> out = new TreeMap<>();
    String prefix = section + ".";
    openValues.forEach((k, v) -> {
      if (k.startsWith(prefix)) {
        out.put(k.substring(prefix.length()), v);
      }
    });
    return out;
  }

  /**
   * The environment variables under an open section, by what follows its prefix: for
   * {@code kafka.properties}, {@code TRIBUTARY_KAFKA_PROPERTIES_SASL_MECHANISM=PLAIN} gives
   * {@code SASL_MECHANISM -> PLAIN}.
   */
  public Map<String, String> environmentSection(String section) {
    requireOpen(section);
    String prefix = envName(section) + "_";
    Map<String, String> out = new TreeMap<>();
    env.forEach((k, v) -> {
      if (k.startsWith(prefix) && k.length() > prefix.length()) {
        out.put(k.substring(prefix.length()), v);
      }
    });
    return out;
  }

  private static void requireOpen(String section) {
    if (!OPEN_SECTIONS.contains(section)) {
      throw new IllegalArgumentException("'" + section + "' is not an open section");
    }
  }

  /** {@code name} is e.g. {@code CONTROL_TOKEN}: read from TRIBUTARY_CONTROL_TOKEN, else the file TRIBUTARY_CONTROL_TOKEN_FILE. */
  public Secret secret(String name) {
    String direct = env.get("TRIBUTARY_" + name);
    if (direct != null && !direct.isEmpty()) {
      return Secret.of(direct);
    }
    String file = env.get("TRIBUTARY_" + name + "_FILE");
    if (file != null && !file.isEmpty()) {
      try {
        return Secret.of(Files.readString(Path.of(file), StandardCharsets.UTF_8).strip());
      } catch (IOException e) {
        throw new ConfigException("cannot read TRIBUTARY_" + name + "_FILE (" + file + "): " + e.getMessage());
      }
    }
    return Secret.none();
  }

  /** The settings for logging at start-up: secrets never enter {@code values}, and credentials inside URIs are masked. */
  public Map<String, String> describe() {
    Map<String, String> shown = new TreeMap<>();
    values.forEach((k, v) -> shown.put(k, v.replaceAll("://[^/@\\s]*@", "://****@")));
    return shown;
  }

  public static String envName(String key) {
    StringBuilder out = new StringBuilder("TRIBUTARY_");
    for (char c : key.toCharArray()) {
      if (c == '.') {
        out.append('_');
      } else if (Character.isUpperCase(c)) {
        out.append('_').append(c);
      } else {
        out.append(Character.toUpperCase(c));
      }
    }
    return out.toString();
  }

  private static Object readYaml(Path file) {
    try (Reader reader = Files.newBufferedReader(file, StandardCharsets.UTF_8)) {
      Object root = new Yaml(new LoaderOptions()).load(reader);
      return root == null ? Map.of() : root;
    } catch (IOException e) {
      throw new ConfigException("cannot read config file " + file + ": " + e.getMessage());
    } catch (RuntimeException e) {
      throw new ConfigException("config file " + file + " is not valid YAML: " + e.getMessage());
    }
  }

  private static void flatten(String prefix, Object node, Map<String, String> out, Map<String, String> open, Path file) {
    if (!(node instanceof Map<?, ?> map)) {
      throw new ConfigException("config file " + file + ": '" + (prefix.isEmpty() ? "(root)" : prefix) + "' must be a mapping");
    }
    for (Map.Entry<?, ?> entry : map.entrySet()) {
      String key = prefix.isEmpty() ? String.valueOf(entry.getKey()) : prefix + "." + entry.getKey();
      String lower = key.toLowerCase(Locale.ROOT);
      if (SECRET_WORDS.stream().anyMatch(lower::contains)) {
        throw new ConfigException("config file " + file + ": '" + key + "' is a secret and is not read from files like this one; set "
            + envName(key) + " or " + envName(key) + "_FILE instead");
      }
      Object value = entry.getValue();
      boolean inOpenSection = OPEN_SECTIONS.stream().anyMatch(section -> key.startsWith(section + "."));
      if (value instanceof Map<?, ?>) {
        flatten(key, value, out, open, file);
      } else if (inOpenSection) {
        open.put(key, value instanceof List<?> list ? String.join(",", list.stream().map(String::valueOf).toList()) : String.valueOf(value));
      } else if (!out.containsKey(key)) {
        throw new ConfigException("config file " + file + ": unknown key '" + key + "'; known keys: " + out.keySet());
      } else if (value instanceof List<?> list) {
        out.put(key, String.join(",", list.stream().map(String::valueOf).toList()));
      } else {
        out.put(key, String.valueOf(value));
      }
    }
  }

  public static final class ConfigException extends RuntimeException {
    public ConfigException(String message) {
      super(message);
    }
  }
}
