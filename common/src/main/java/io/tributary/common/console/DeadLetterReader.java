package io.tributary.common.console;

import io.vertx.core.Future;
import io.vertx.core.json.JsonObject;
import java.util.List;

/**
 * Reads back the newest records of a pipeline's dead-letter bus for the console. Each record is the
 * dead letter's JSON ({@code stage}, {@code reason}, {@code source}, {@code rejectedAt}, {@code input})
 * with where it lies on the bus ({@code partition}, {@code offset}, {@code timestamp}).
 */
public interface DeadLetterReader {

  /** At most {@code count} of the newest dead letters, newest first. */
  Future<List<JsonObject>> latest(int count);

  Future<Void> close();
}
