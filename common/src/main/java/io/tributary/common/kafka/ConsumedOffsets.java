package io.tributary.common.kafka;

import io.tributary.common.input.InputCommit;
import java.util.Map;
import org.apache.kafka.clients.consumer.ConsumerGroupMetadata;
import org.apache.kafka.clients.consumer.OffsetAndMetadata;
import org.apache.kafka.common.TopicPartition;

/**
 * Input offsets to commit in the same Kafka transaction as a batch's outputs: the next offset per
 * partition, the consumer group's metadata at the time the records were polled (the broker refuses
 * the commit of a member fenced out by a rebalance), and the consumer loop's epoch. The epoch grows
 * each time the loop rewinds after a failed batch: outputs of batches polled before the rewind are
 * refused, so none commits behind one that failed. A negative epoch marks offsets that follow no
 * consumer loop's batches (an outbox relay's), which are never refused.
 */
public record ConsumedOffsets(Map<TopicPartition, OffsetAndMetadata> offsets, ConsumerGroupMetadata group, long epoch) implements InputCommit {

  public ConsumedOffsets {
    offsets = Map.copyOf(offsets);
  }

  /** Offsets committed by a relay of outputs rather than with a consumer loop's batch. */
  public static ConsumedOffsets unordered(Map<TopicPartition, OffsetAndMetadata> offsets, ConsumerGroupMetadata group) {
    return new ConsumedOffsets(offsets, group, -1);
  }

  public boolean ordered() {
    return epoch >= 0;
  }
}
