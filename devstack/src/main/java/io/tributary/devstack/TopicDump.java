package io.tributary.devstack;

import java.nio.charset.StandardCharsets;
import java.time.Duration;
import java.util.HashMap;
import java.util.List;
import java.util.Map;
import java.util.Properties;
import java.util.StringJoiner;
import org.apache.kafka.clients.consumer.ConsumerConfig;
import org.apache.kafka.clients.consumer.ConsumerRecord;
import org.apache.kafka.clients.consumer.KafkaConsumer;
import org.apache.kafka.common.PartitionInfo;
import org.apache.kafka.common.TopicPartition;
import org.apache.kafka.common.header.Header;
import org.apache.kafka.common.serialization.ByteArrayDeserializer;

/**
 * {@code deploy/local/topic.sh}: prints the committed records of a topic (read_committed, as the
 * stages read), {@code key | headers | value} one per line, partition by partition, and exits as
 * soon as it reached each partition's last stable offset. Kafka's console consumer can only stop
 * after a stretch of silence, which made every look at a topic take seconds.
 */
public final class TopicDump {

  private TopicDump() {
  }

  public static void main(String[] args) {
    if (args.length < 2 || (args.length != 2 && !(args.length == 4 && args[2].equals("--max-messages")))) {
      System.err.println("usage: TopicDump BOOTSTRAP TOPIC [--max-messages N]");
      System.exit(64);
    }
    long max = args.length == 4 ? Long.parseLong(args[3]) : Long.MAX_VALUE;
    Properties props = new Properties();
    props.put(ConsumerConfig.BOOTSTRAP_SERVERS_CONFIG, args[0]);
    props.put(ConsumerConfig.ISOLATION_LEVEL_CONFIG, "read_committed");
    props.put(ConsumerConfig.ENABLE_AUTO_COMMIT_CONFIG, "false");
    props.put(ConsumerConfig.KEY_DESERIALIZER_CLASS_CONFIG, ByteArrayDeserializer.class.getName());
    props.put(ConsumerConfig.VALUE_DESERIALIZER_CLASS_CONFIG, ByteArrayDeserializer.class.getName());
    try (KafkaConsumer<byte[], byte[]> consumer = new KafkaConsumer<>(props)) {
      List<PartitionInfo> infos = consumer.partitionsFor(args[1], Duration.ofSeconds(10));
      if (infos == null || infos.isEmpty()) {
        System.err.println("topic " + args[1] + " does not exist (yet) on " + args[0]);
        System.exit(1);
      }
      List<TopicPartition> partitions = infos.stream().map(i -> new TopicPartition(i.topic(), i.partition()))
          .sorted((a, b) -> Integer.compare(a.partition(), b.partition())).toList();
      consumer.assign(partitions);
      consumer.seekToBeginning(partitions);
      // read_committed: the end offsets are the last stable offsets, where committed records end.
      Map<TopicPartition, Long> ends = new HashMap<>(consumer.endOffsets(partitions, Duration.ofSeconds(10)));
      long printed = 0;
      long deadline = System.nanoTime() + Duration.ofSeconds(30).toNanos();
      while (printed < max && ends.entrySet().stream().anyMatch(e -> consumer.position(e.getKey()) < e.getValue())
          && System.nanoTime() < deadline) {
        for (ConsumerRecord<byte[], byte[]> r : consumer.poll(Duration.ofMillis(200))) {
          if (printed++ >= max) {
            break;
          }
          System.out.println(text(r.key()) + " | " + headers(r) + " | " + text(r.value()));
        }
      }
    }
  }

  private static String headers(ConsumerRecord<byte[], byte[]> r) {
    StringJoiner out = new StringJoiner(",");
    for (Header h : r.headers()) {
      out.add(h.key() + ":" + text(h.value()));
    }
    return out.length() == 0 ? "NO_HEADERS" : out.toString();
  }

  private static String text(byte[] bytes) {
    return bytes == null ? "null" : new String(bytes, StandardCharsets.UTF_8);
  }
}
