package io.tributary.common.bus;

import io.vertx.core.Future;
import java.util.List;

/** Publishes batches of messages; a batch succeeds only once the bus has acknowledged every message in it. */
public interface BusPublisher {

  /** Completes on the caller's context once every message is acknowledged, or fails with the first error. */
  Future<Void> publish(List<BusMessage> messages);

  Future<Void> close();
}
