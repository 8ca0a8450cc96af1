package io.tributary.common.kafka;

import io.tributary.common.config.ServiceConfig;
import java.util.HashMap;
import java.util.Map;

/**
 * Kafka client properties derived from a service's configuration, with the deployment's
 * pass-through properties ({@link KafkaProperties}: TLS, SASL, tuning) put over them last.
 */
public final class KafkaSettings {

  private KafkaSettings() {
  }

  public static Map<String, String> admin(ServiceConfig config, String clientId) {
    Map<String, String> p = connection(config, clientId);
    KafkaProperties.from(config).applyTo(KafkaProperties.Client.ADMIN, p);
    return p;
  }

  /** Where the brokers are, who asks, and how long to wait for them: what every admin client and consumer sets. */
  private static Map<String, String> connection(ServiceConfig config, String clientId) {
    Map<String, String> p = new HashMap<>();
    p.put("bootstrap.servers", config.get("kafka.bootstrapServers"));
    p.put("client.id", clientId);
    p.put("request.timeout.ms", config.get("kafka.requestTimeoutMs"));
    p.put("default.api.timeout.ms", String.valueOf(config.getInt("kafka.requestTimeoutMs") * 2));
    p.put("reconnect.backoff.max.ms", "2000");
    return p;
  }

  /** An idempotent producer that only reports success once every in-sync replica has the record. */
  public static Map<String, String> producer(ServiceConfig config, String clientId) {
    Map<String, String> p = producerDefaults(config, clientId);
    KafkaProperties.from(config).applyTo(KafkaProperties.Client.PRODUCER, p);
    return p;
  }

  private static Map<String, String> producerDefaults(ServiceConfig config, String clientId) {
    Map<String, String> p = new HashMap<>();
    p.put("bootstrap.servers", config.get("kafka.bootstrapServers"));
    p.put("client.id", clientId);
    p.put("acks", "all");
    p.put("enable.idempotence", "true");
    p.put("max.in.flight.requests.per.connection", "5");
    p.put("linger.ms", config.get("kafka.lingerMs"));
    p.put("batch.size", config.get("kafka.batchSizeBytes"));
    p.put("compression.type", config.get("kafka.compression"));
    p.put("request.timeout.ms", config.get("kafka.requestTimeoutMs"));
    p.put("delivery.timeout.ms", config.get("kafka.deliveryTimeoutMs"));
    p.put("max.block.ms", config.get("kafka.requestTimeoutMs"));
    p.put("reconnect.backoff.max.ms", "2000");
    p.put("buffer.memory", String.valueOf(64L * 1024 * 1024));
    p.put("key.serializer", "org.apache.kafka.common.serialization.StringSerializer");
    p.put("value.serializer", "org.apache.kafka.common.serialization.ByteArraySerializer");
    return p;
  }

  /**
   * A transactional producer: idempotent, {@code acks=all}, with a transaction timeout short enough
   * that what a crashed instance left open never blocks {@code read_committed} readers for long when
   * no replacement with the same id takes over (Kafka Streams uses 10 s too).
   */
  public static Map<String, String> transactionalProducer(ServiceConfig config, String clientId, String transactionalId) {
    Map<String, String> p = producerDefaults(config, clientId);
    p.put("transactional.id", transactionalId);
    p.put("transaction.timeout.ms", config.get("kafka.transactionTimeoutMs"));
    // A produce request that reaches a partition while the previous transaction's markers are still
    // being written is refused (CONCURRENT_TRANSACTIONS) and retried: after 10 ms, not the default 100.
    p.put("retry.backoff.ms", "10");
    KafkaProperties.from(config).applyTo(KafkaProperties.Client.PRODUCER, p);
    return p;
  }

  /** A consumer whose offsets the stage commits itself, reading only committed transactional data. */
  public static Map<String, String> consumer(ServiceConfig config, String clientId, String group) {
    Map<String, String> p = connection(config, clientId);
    p.put("group.id", group);
    p.put("enable.auto.commit", "false");
    p.put("auto.offset.reset", "earliest");
    p.put("isolation.level", "read_committed");
    p.put("max.poll.records", config.get("kafka.maxPollRecords"));
    p.put("fetch.min.bytes", config.get("kafka.fetchMinBytes"));
    p.put("fetch.max.wait.ms", "20");
    p.put("partition.assignment.strategy", "org.apache.kafka.clients.consumer.CooperativeStickyAssignor");
    p.put("session.timeout.ms", config.get("kafka.sessionTimeoutMs"));
    p.put("heartbeat.interval.ms", String.valueOf(Math.max(500, config.getInt("kafka.sessionTimeoutMs") / 4)));
    if (!config.get("kafka.groupInstanceId").isBlank()) {
      // Static membership: a restarted instance takes its partitions back without a rebalance.
      p.put("group.instance.id", config.get("kafka.groupInstanceId"));
    }
    p.put("key.deserializer", "org.apache.kafka.common.serialization.StringDeserializer");
    p.put("value.deserializer", "org.apache.kafka.common.serialization.ByteArrayDeserializer");
    KafkaProperties.from(config).applyTo(KafkaProperties.Client.CONSUMER, p);
    return p;
  }

  /**
   * A consumer of no group that reads chosen partitions from chosen offsets (the console's view of
   * the dead-letter topic): committed data only, nothing committed back.
   */
  public static Map<String, String> browser(ServiceConfig config, String clientId) {
    Map<String, String> p = connection(config, clientId);
    p.put("enable.auto.commit", "false");
    p.put("isolation.level", "read_committed");
    p.put("key.deserializer", "org.apache.kafka.common.serialization.StringDeserializer");
    p.put("value.deserializer", "org.apache.kafka.common.serialization.StringDeserializer");
    KafkaProperties.from(config).applyTo(KafkaProperties.Client.CONSUMER, p);
    return p;
  }
}
