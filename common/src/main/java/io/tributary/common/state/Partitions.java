package io.tributary.common.state;

import java.nio.charset.StandardCharsets;
import org.apache.kafka.common.utils.Utils;

/** Which input partition holds an entity key: the one Kafka's default partitioner gives its records. */
public final class Partitions {

  private Partitions() {
  }

  public static int of(String key, int partitions) {
    return Utils.toPositive(Utils.murmur2(key.getBytes(StandardCharsets.UTF_8))) % partitions;
  }
}
