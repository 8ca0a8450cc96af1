package io.tributary.common.bus;

import io.tributary.common.input.InputCommit;
import io.vertx.core.Future;
import java.util.List;

/** Publishes batches of messages; a batch succeeds only once the bus has acknowledged every message in it. */
public interface BusPublisher {

  /** Completes on the caller's context once every message is acknowledged, or fails with the first error. */
  Future<Void> publish(List<BusMessage> messages);

  /**
   * Publishes and commits the input positions the messages were made from, atomically where the bus
   * can (Kafka transactions): a consumer of the outputs sees them exactly once.
   */
  default Future<Void> publish(List<BusMessage> messages, InputCommit consumed) {
    return consumed == null ? publish(messages)
        : Future.failedFuture(new IllegalStateException(getClass().getSimpleName() + " cannot commit input positions"));
  }

  Future<Void> close();
}
