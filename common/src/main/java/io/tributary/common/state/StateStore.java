package io.tributary.common.state;

import io.tributary.common.pipeline.Aggregation;
import io.vertx.core.Future;
import java.util.Collection;
import java.util.List;
import java.util.Map;
import java.util.Set;

/**
 * Where aggregation state lives, per input partition. The contract every implementation keeps:
 * {@link #apply} changes nothing unless the partition's stored position equals the one the caller
 * continued from, and then, in one atomic step, records the batch's event ids, writes the whole new
 * value of every changed window, adds the distinct values, appends the batch's outbox entry (its
 * window updates and dead letters, relayed to the buses afterwards) and stores the new position and
 * stream time. Redis does it in one function call; SQL in one transaction.
 */
public interface StateStore {

  /** Prepares the store (loads the Redis function, creates SQL tables). */
  Future<Void> init();

  /**
   * Records that {@code shape} (three services, or fused) keeps this pipeline's state, unless a shape
   * is on record already; answers the shape on record after the call. The positions each shape
   * stores are of different logs (the enriched topic, or the fused chain's source), so a store must
   * never serve both.
   */
  Future<String> claimShape(String shape);

  Future<Position> position(int partition);

  /**
   * What a batch needs to know before it is planned, in one round trip: which of these ids (grouped
   * by de-duplication bucket of their event time) were decided before, and the stored values of
   * these windows (a window with no stored value is left out).
   */
  Future<Stored> read(int partition, Map<Long, List<String>> idsByBucket, Collection<WindowKey> windows);

  record Stored(Set<String> seen, Map<WindowKey, WindowValue> windows) {
  }

  Future<Applied> apply(int partition, Position expected, BatchWrite write);

  /** Outbox entries of a partition after {@code afterPosition} (exclusive), oldest first: what is not relayed yet. */
  Future<List<OutboxEntry>> outbox(int partition, long afterPosition);

  /** Windows of one group overlapping [from, to), merged over partitions, newest first. */
  Future<List<WindowState>> windows(Aggregation aggregation, String group, long from, long to, int partitions);

  /** These windows of one aggregation, each merged over every partition; a window no partition holds is left out. */
  Future<Map<WindowKey, WindowState>> merged(Aggregation aggregation, Collection<WindowKey> windows, int partitions);

  /** Every group of the window that holds the newest stream time of any partition. */
  Future<List<WindowState>> currentWindow(Aggregation aggregation, int partitions);

  Future<Void> close();

  /** The outcome of {@link #apply}. */
  sealed interface Applied permits Ok, Conflict {
  }

  /**
   * Applied; {@code distinct} holds, for each changed window with distinct measures (in the write's
   * order, then the aggregation's measure order), its distinct count after the batch.
   */
  record Ok(List<Long> distinct) implements Applied {
  }

  /** Not applied: another owner moved the partition to {@code stored}. */
  record Conflict(Position stored) implements Applied {
  }
}
