package io.tributary.common.kafka;

import io.tributary.common.config.Secret;
import io.tributary.common.config.ServiceConfig;
import io.tributary.common.config.ServiceConfig.ConfigException;
import java.util.Arrays;
import java.util.EnumMap;
import java.util.Locale;
import java.util.Map;
import java.util.Set;
import java.util.TreeMap;
import org.apache.kafka.clients.admin.AdminClientConfig;
import org.apache.kafka.clients.consumer.ConsumerConfig;
import org.apache.kafka.clients.producer.ProducerConfig;
import org.apache.kafka.common.config.ConfigDef;

/**
 * Kafka client properties a deployment passes through to the clients, for what Tributary has no
 * setting of its own: TLS, SASL (MSK, Confluent Cloud, Event Hubs), client racks, tuning.
 *
 * <p>{@code kafka.properties.*} reach every client that knows the property (a producer, consumer or
 * admin client); {@code kafka.producer.properties.*}, {@code kafka.consumer.properties.*} and
 * {@code kafka.admin.properties.*} reach one kind and win over the shared ones. Each comes from the
 * service's file ({@code kafka: {properties: {security.protocol: SASL_SSL}}}) or from the
 * environment, with the property's dots as underscores
 * ({@code TRIBUTARY_KAFKA_PROPERTIES_SECURITY_PROTOCOL=SASL_SSL}); the environment wins.
 *
 * <p>A property Kafka declares as a password ({@code sasl.jaas.config}, {@code ssl.key.password},
 * {@code ssl.keystore.key}, ...), or whose name says it is one, is a secret: only taken from the
 * environment or from the file that {@code <variable>_FILE} names, and never shown. A name none of
 * the clients knows is refused (a typo would otherwise only be a warning in the client's log), and
 * so are the properties exactly-once depends on, which Tributary sets itself.
 */
public final class KafkaProperties {

  /** The kinds of client, each with the properties it knows. */
  public enum Client {
    PRODUCER("kafka.producer.properties", ProducerConfig.configDef()),
    CONSUMER("kafka.consumer.properties", ConsumerConfig.configDef()),
    ADMIN("kafka.admin.properties", AdminClientConfig.configDef());

    final String section;
    final ConfigDef definition;

    Client(String section, ConfigDef definition) {
      this.section = section;
      this.definition = definition;
    }

    boolean knows(String property) {
      return definition.configKeys().containsKey(property);
    }

    boolean isPassword(String property) {
      ConfigDef.ConfigKey key = definition.configKeys().get(property);
      return key != null && key.type == ConfigDef.Type.PASSWORD;
    }
  }

  static final String SHARED = "kafka.properties";

  /** What exactly-once and the stages' own bookkeeping rely on; each has a Tributary setting or none. */
  static final Map<String, String> RESERVED = Map.ofEntries(
      Map.entry("acks", "producers wait for all in-sync replicas (exactly-once needs it)"),
      Map.entry("enable.idempotence", "producers are idempotent (exactly-once needs it)"),
      Map.entry("transactional.id", "set per instance from instance.id"),
      Map.entry("isolation.level", "consumers read committed data only (exactly-once needs it)"),
      Map.entry("enable.auto.commit", "stages commit offsets in their transactions"),
      Map.entry("group.id", "one consumer group per pipeline and stage"),
      Map.entry("group.instance.id", "set it with kafka.groupInstanceId"),
      Map.entry("key.serializer", "records are converted at the edge"),
      Map.entry("value.serializer", "records are converted at the edge"),
      Map.entry("key.deserializer", "records are converted at the edge"),
      Map.entry("value.deserializer", "records are converted at the edge"),
      Map.entry("bootstrap.servers", "set it with kafka.bootstrapServers"),
      Map.entry("client.id", "set per instance from instance.id"));

  private static final Set<String> SECRET_WORDS = Set.of("password", "jaas", "secret");

  private final Map<Client, Map<String, String>> plain = new EnumMap<>(Client.class);
  private final Map<Client, Map<String, Secret>> secrets = new EnumMap<>(Client.class);

  private KafkaProperties() {
    for (Client client : Client.values()) {
      plain.put(client, new TreeMap<>());
      secrets.put(client, new TreeMap<>());
    }
  }

  /** Reads and checks every section; a bad name or a secret in the file is a {@link ConfigException}. */
  public static KafkaProperties from(ServiceConfig config) {
    KafkaProperties properties = new KafkaProperties();
    properties.read(config, SHARED, Set.of(Client.values()));
    for (Client client : Client.values()) {
      properties.read(config, client.section, Set.of(client));
    }
    return properties;
  }

  private void read(ServiceConfig config, String section, Set<Client> targets) {
    for (Map.Entry<String, String> entry : config.fileSection(section).entrySet()) {
      String name = entry.getKey();
      check(section, name, targets);
      if (isSecret(name)) {
        String variable = variable(section, name);
        throw new ConfigException("'" + section + "." + name + "' is a secret and is not read from the config file; set "
            + variable + " or " + variable + "_FILE instead");
      }
      put(targets, name, entry.getValue());
    }
    for (Map.Entry<String, String> entry : config.environmentSection(section).entrySet()) {
      String suffix = entry.getKey();
      String name = propertyName(suffix);
      if (suffix.endsWith("_FILE") && isSecret(propertyName(suffix.substring(0, suffix.length() - 5)))) {
        continue; // read below, through ServiceConfig.secret, with the variable it belongs to
      }
      check(section, name, targets);
      if (isSecret(name)) {
        putSecret(targets, name, Secret.of(entry.getValue()));
      } else {
        put(targets, name, entry.getValue());
      }
    }
    for (String suffix : config.environmentSection(section).keySet()) {
      if (suffix.endsWith("_FILE")) {
        String base = suffix.substring(0, suffix.length() - 5);
        String name = propertyName(base);
        if (isSecret(name)) {
          check(section, name, targets);
          String variable = variable(section, name);
          putSecret(targets, name, config.secret(variable.substring("TRIBUTARY_".length())));
        }
      }
    }
  }

  private static void check(String section, String name, Set<Client> targets) {
    String reserved = RESERVED.get(name);
    if (reserved != null) {
      throw new ConfigException("'" + section + "." + name + "' cannot be set: " + reserved);
    }
    if (targets.stream().noneMatch(client -> client.knows(name))) {
      throw new ConfigException("'" + section + "." + name + "' (" + variable(section, name) + ") is not a property of "
          + (targets.size() == 1 ? "a Kafka " + targets.iterator().next().name().toLowerCase(Locale.ROOT) + " client"
          : "any Kafka client (producer, consumer or admin)"));
    }
  }

  private static boolean isSecret(String name) {
    return SECRET_WORDS.stream().anyMatch(name::contains)
        || Arrays.stream(Client.values()).anyMatch(client -> client.isPassword(name));
  }

  private void put(Set<Client> targets, String name, String value) {
    for (Client client : targets) {
      if (client.knows(name)) {
        plain.get(client).put(name, value);
        secrets.get(client).remove(name);
      }
    }
  }

  private void putSecret(Set<Client> targets, String name, Secret value) {
    if (!value.isPresent()) {
      return;
    }
    for (Client client : targets) {
      if (client.knows(name)) {
        secrets.get(client).put(name, value);
        plain.get(client).remove(name);
      }
    }
  }

  /** Puts this deployment's properties for {@code client} over {@code settings}. */
  public void applyTo(Client client, Map<String, String> settings) {
    settings.putAll(plain.get(client));
    secrets.get(client).forEach((name, secret) -> settings.put(name, secret.reveal()));
  }

  /** The properties per client for the start-up log: secrets as {@code ****}. */
  public Map<String, Map<String, String>> describe() {
    Map<String, Map<String, String>> shown = new TreeMap<>();
    for (Client client : Client.values()) {
      Map<String, String> one = new TreeMap<>(plain.get(client));
      secrets.get(client).keySet().forEach(name -> one.put(name, "****"));
      if (!one.isEmpty()) {
        shown.put(client.name().toLowerCase(Locale.ROOT), one);
      }
    }
    return shown;
  }

  static String propertyName(String environmentSuffix) {
    return environmentSuffix.toLowerCase(Locale.ROOT).replace('_', '.');
  }

  static String variable(String section, String name) {
    return ServiceConfig.envName(section) + "_" + name.toUpperCase(Locale.ROOT).replace('.', '_').replace('-', '_');
  }
}
