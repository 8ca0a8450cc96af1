package io.tributary.common.state;

import io.tributary.common.pipeline.Aggregation;
import io.vertx.core.Future;
import java.util.List;
import java.util.Map;
import java.util.Set;

/**
 * Where aggregation state lives, per input partition. The contract every implementation keeps:
 * {@link #apply} changes nothing unless the partition's stored position equals the one the caller
 * continued from, and then, in one atomic step, applies the plan, records its event ids as applied
 * and stores the new position and stream time. Redis does it in one function call; SQL in one
 * transaction.
 */
public interface StateStore {

  /** Prepares the store (loads the Redis function, creates SQL tables). */
  Future<Void> init();

  Future<Position> position(int partition);

  /** Which of these ids (grouped by de-duplication bucket of their event time) were applied before. */
  Future<Set<String>> seen(int partition, Map<Long, List<String>> idsByBucket);

  Future<Applied> apply(int partition, Position expected, long nextOffset, BatchPlan plan);

  /** Windows of one group overlapping [from, to), merged over partitions, newest first. */
  Future<List<WindowState>> windows(Aggregation aggregation, String group, long from, long to, int partitions);

  /** Every group of the window that holds the newest stream time of any partition. */
  Future<List<WindowState>> currentWindow(Aggregation aggregation, int partitions);

  Future<Void> close();

  /** The outcome of {@link #apply}. */
  sealed interface Applied permits Ok, Conflict {
  }

  /** Applied; {@code changed} holds this partition's state of every window the batch changed. */
  record Ok(List<WindowState> changed) implements Applied {
  }

  /** Not applied: another owner moved the partition to {@code stored}. */
  record Conflict(Position stored) implements Applied {
  }
}
