package io.tributary.common.input;

import io.vertx.core.Future;
import io.vertx.core.json.JsonArray;
import java.util.Collection;
import java.util.Map;

/**
 * Where a stage reads its input: batches of {@link InputRecord}s handed to a {@link Processor} on the
 * stage's context, the next read waiting on the batches in flight (the backpressure). Adapters (Kafka,
 * RabbitMQ) keep the ordering, pausing, rewinding and committing rules of {@link InFlightBatches}.
 */
public interface InputBus {

  /**
   * Who commits a batch's positions. WITH_OUTPUTS: the batch's {@link InputBatch#commit()} goes to the
   * stage's publisher with the batch's outputs (on Kafka, in the output transaction). BY_STAGE: the
   * stage keeps positions in its own store (aggregate, with its state) and says where to start in
   * {@link Rebalance#assigned}.
   */
  enum Commit { WITH_OUTPUTS, BY_STAGE }

  /** Processes one batch on the stage's context. */
  interface Processor {
    /**
     * Completes when the batch is fully handled; may name shards to re-read from a position (after a
     * fencing conflict, for example). Fails to have the batch, and every later one, read again.
     */
    Future<Map<Integer, Long>> process(InputBatch batch);
  }

  /** Ownership of shards moving between instances; called off the event loop, where blocking is allowed. */
  interface Rebalance {
    /** Where to start each newly owned shard; shards left out start at the bus's committed position. */
    default Map<Integer, Long> assigned(Collection<Integer> shards) {
      return Map.of();
    }

    /** Called once no batch of these shards is in flight any more. */
    default void revoked(Collection<Integer> shards) {
    }
  }

  void start();

  /** Stops reading, settles the batches in flight, leaves the group; completes on the caller's context. */
  Future<Void> stop();

  /** The shards this instance owns, for status pages. */
  JsonArray assignedShards();

  /**
   * A commit of these positions as the bus's committed positions, to publish with outputs made
   * outside a batch (aggregate's relay); fails while the instance has not joined its group yet.
   */
  Future<InputCommit> commitOf(Map<Integer, Long> positions);

  /** The committed position of each shard, -1 for none yet; waits for commits in flight to settle. */
  Future<Map<Integer, Long>> committed(Collection<Integer> shards);
}
