package io.tributary.common.input;

import java.util.Collection;
import java.util.List;

/**
 * Reads the records of shards from a bus that has no consumer groups of its own (RabbitMQ streams),
 * for an input whose shard ownership and committed positions live elsewhere (a Kafka consumer group).
 * One input thread calls it; records may arrive on any thread.
 */
public interface ShardReader {

  /** Reads {@code shard} from {@code position} on; what was read of it before and not taken yet is dropped. */
  void open(int shard, long position);

  /** Stops reading these shards and drops what was read of them and not taken yet. */
  void close(Collection<Integer> shards);

  /** Up to {@code max} records read, each shard's in position order, waiting up to {@code waitMs} for the first. */
  List<InputRecord> take(int max, long waitMs) throws InterruptedException;

  /** How the shard is named on its bus, for status pages. */
  String name(int shard);

  /** Closes every shard's reader. */
  void closeAll();
}
