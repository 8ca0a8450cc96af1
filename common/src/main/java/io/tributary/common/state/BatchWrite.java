package io.tributary.common.state;

import io.tributary.common.pipeline.Aggregation;
import java.util.List;
import java.util.Map;

/**
 * Everything one batch of one partition writes, in one atomic store call: the position and stream
 * time after it, the ids it decided, the whole new value of every window it changed with the values
 * of its distinct measures, and its outbox entry. {@code relayedUpTo} lets the store drop outbox
 * entries already relayed (a position, or -1).
 */
public record BatchWrite(
    long nextOffset,
    long streamTime,
    Map<Long, List<String>> newIds,
    List<Window> windows,
    byte[] outboxEntry,
    long relayedUpTo) {

  /** The new value of one window, and the values its distinct measures saw in this batch (by measure name). */
  public record Window(Aggregation aggregation, WindowKey key, WindowValue value, Map<String, List<String>> distinct) {
  }
}
