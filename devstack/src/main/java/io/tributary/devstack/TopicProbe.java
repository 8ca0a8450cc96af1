package io.tributary.devstack;

import java.nio.charset.StandardCharsets;
import java.time.Duration;
import java.util.ArrayList;
import java.util.HashMap;
import java.util.List;
import java.util.Map;
import java.util.Properties;
import java.util.UUID;
import java.util.function.Predicate;
import org.apache.kafka.clients.admin.Admin;
import org.apache.kafka.clients.admin.ListOffsetsOptions;
import org.apache.kafka.clients.admin.OffsetSpec;
import org.apache.kafka.clients.admin.TransactionListing;
import org.apache.kafka.clients.consumer.ConsumerRecord;
import org.apache.kafka.clients.consumer.KafkaConsumer;
import org.apache.kafka.clients.producer.KafkaProducer;
import org.apache.kafka.clients.producer.ProducerRecord;
import org.apache.kafka.common.IsolationLevel;
import org.apache.kafka.common.TopicPartition;
import org.apache.kafka.common.header.Header;
import org.apache.kafka.common.serialization.StringDeserializer;
import org.apache.kafka.common.serialization.StringSerializer;

/** Reads and writes topics from tests: what a stage wrote, and input for a stage. Needs kafka-clients on the test classpath. */
public final class TopicProbe {

  /** One record as text. */
  public record Message(String key, String value, Map<String, String> headers, int partition, long offset) {
  }

  private TopicProbe() {
  }

  /** Reads {@code topic} from the beginning until {@code done} holds for what was read, or the timeout passes. */
  public static List<Message> read(String bootstrap, String topic, Duration timeout, Predicate<List<Message>> done) {
    return read(bootstrap, topic, timeout, done, false);
  }

  /**
   * Reads {@code topic} (committed records only) from the beginning until {@code done} holds, then on
   * to the end of every partition as it stands at that moment, so that extra records written before
   * (duplicates, say) are read too.
   */
  public static List<Message> readToEnd(String bootstrap, String topic, Duration timeout, Predicate<List<Message>> done) {
    return read(bootstrap, topic, timeout, done, true);
  }

  private static List<Message> read(String bootstrap, String topic, Duration timeout, Predicate<List<Message>> done, boolean toEnd) {
    Properties props = new Properties();
    props.put("bootstrap.servers", bootstrap);
    props.put("group.id", "probe-" + UUID.randomUUID());
    props.put("auto.offset.reset", "earliest");
    props.put("enable.auto.commit", "false");
    props.put("isolation.level", "read_committed");
    props.put("max.poll.records", "5000");
    List<Message> out = new ArrayList<>();
    try (KafkaConsumer<String, String> consumer = new KafkaConsumer<>(props, new StringDeserializer(), new StringDeserializer())) {
      consumer.subscribe(List.of(topic));
      long deadline = System.nanoTime() + timeout.toNanos();
      while (System.nanoTime() < deadline && !done.test(out)) {
        poll(consumer, out);
      }
      if (toEnd) {
        Map<TopicPartition, Long> end = consumer.endOffsets(consumer.assignment());
        while (System.nanoTime() < deadline && end.entrySet().stream().anyMatch(e -> consumer.position(e.getKey()) < e.getValue())) {
          poll(consumer, out);
        }
      }
    }
    return out;
  }

  private static void poll(KafkaConsumer<String, String> consumer, List<Message> out) {
    for (ConsumerRecord<String, String> r : consumer.poll(Duration.ofMillis(200))) {
      Map<String, String> headers = new HashMap<>();
      for (Header h : r.headers()) {
        headers.put(h.key(), h.value() == null ? null : new String(h.value(), StandardCharsets.UTF_8));
      }
      out.add(new Message(r.key(), r.value(), headers, r.partition(), r.offset()));
    }
  }

  /** Reads until at least {@code count} records arrived, then for {@code settle} more to catch extras. */
  public static List<Message> readAtLeast(String bootstrap, String topic, int count, Duration timeout) {
    return read(bootstrap, topic, timeout, list -> list.size() >= count);
  }

  /** Writes records (key, value, headers) and waits for every acknowledgement. */
  public static void write(String bootstrap, String topic, List<Message> messages) {
    Properties props = new Properties();
    props.put("bootstrap.servers", bootstrap);
    props.put("acks", "all");
    props.put("linger.ms", "5");
    try (KafkaProducer<String, String> producer = new KafkaProducer<>(props, new StringSerializer(), new StringSerializer())) {
      for (Message m : messages) {
        ProducerRecord<String, String> record = new ProducerRecord<>(topic, m.key(), m.value());
        m.headers().forEach((k, v) -> record.headers().add(k, v.getBytes(StandardCharsets.UTF_8)));
        producer.send(record);
      }
      producer.flush();
    }
  }

  /**
   * What a failed read needs to be explained: each partition's log end and last stable offset (what
   * a {@code read_committed} reader can reach), the transactions open on it, and the transactions
   * the coordinator knows of.
   */
  public static String describe(String bootstrap, String topic) {
    Properties props = new Properties();
    props.put("bootstrap.servers", bootstrap);
    props.put("request.timeout.ms", "10000");
    props.put("default.api.timeout.ms", "20000");
    try (Admin admin = Admin.create(props)) {
      List<TopicPartition> partitions = admin.describeTopics(List.of(topic)).allTopicNames().get().get(topic).partitions().stream()
          .map(p -> new TopicPartition(topic, p.partition())).toList();
      Map<TopicPartition, OffsetSpec> latest = new HashMap<>();
      partitions.forEach(tp -> latest.put(tp, OffsetSpec.latest()));
      var end = admin.listOffsets(latest, new ListOffsetsOptions(IsolationLevel.READ_UNCOMMITTED)).all().get();
      var stable = admin.listOffsets(latest, new ListOffsetsOptions(IsolationLevel.READ_COMMITTED)).all().get();
      var producers = admin.describeProducers(partitions).all().get();
      StringBuilder out = new StringBuilder(topic).append(':');
      for (TopicPartition tp : partitions) {
        out.append("\n  ").append(tp.partition()).append(": end ").append(end.get(tp).offset())
            .append(", stable ").append(stable.get(tp).offset());
        producers.get(tp).activeProducers().stream().filter(p -> p.currentTransactionStartOffset().isPresent())
            .forEach(p -> out.append(", open transaction of producer ").append(p.producerId()).append(" epoch ")
                .append(p.producerEpoch()).append(" from offset ").append(p.currentTransactionStartOffset().getAsLong()));
      }
      List<String> ids = admin.listTransactions().all().get().stream().map(TransactionListing::transactionalId).toList();
      admin.describeTransactions(ids).all().get().forEach((id, d) -> out.append("\n  transaction ").append(id)
          .append(": ").append(d.state()).append(", producer ").append(d.producerId()).append(" epoch ").append(d.producerEpoch())
          .append(", partitions ").append(d.topicPartitions()));
      return out.toString();
    } catch (Exception e) {
      return topic + ": cannot describe (" + e + ")";
    }
  }
}
