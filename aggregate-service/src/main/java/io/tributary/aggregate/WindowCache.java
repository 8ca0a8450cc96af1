package io.tributary.aggregate;

import io.tributary.common.state.WindowKey;
import io.tributary.common.state.WindowValue;
import java.util.HashMap;
import java.util.Iterator;
import java.util.LinkedHashMap;
import java.util.Map;

/**
 * A bounded cache of the windows of the partitions this instance owns, as the store holds them
 * (Kafka Streams' record cache, with the store staying the truth). It spares a read of the stored
 * value before each changed window is written whole. The owner is the only writer of a partition's
 * windows (the store fences every other), so what it cached stays true until the partition is
 * dropped: on revoke, on a fencing conflict and after any failed store call.
 *
 * <p>It also knows which windows the store cannot hold: a partition's windows that start after its
 * stream time when the cache (re)started for it hold only events applied since, all of them cached
 * unless evicted. Such a window needs no read unless it is in the range of the evictions. Least
 * recently used entries are evicted beyond {@code maxEntries}. Used on one event loop only.
 */
final class WindowCache {

  private record Key(int partition, WindowKey window) {
  }

  private final int maxEntries;
  private final Map<Integer, Long> horizon = new HashMap<>();
  private final LinkedHashMap<Key, WindowValue> entries;

  WindowCache(int maxEntries) {
    this.maxEntries = maxEntries;
    this.entries = new LinkedHashMap<>(Math.min(maxEntries, 1 << 16), 0.75f, true) {
      @Override
      protected boolean removeEldestEntry(Map.Entry<Key, WindowValue> eldest) {
        if (size() <= WindowCache.this.maxEntries) {
          return false;
        }
        evicted(eldest.getKey());
        return true;
      }
    };
  }

  /** Starts the partition afresh, empty, from a state whose stream time is {@code streamTime}. */
  void reset(int partition, long streamTime) {
    drop(partition);
    horizon.put(partition, streamTime);
  }

  /** Forgets the partition entirely (revoked). */
  void drop(int partition) {
    Iterator<Key> it = entries.keySet().iterator();
    while (it.hasNext()) {
      if (it.next().partition() == partition) {
        it.remove();
      }
    }
    horizon.remove(partition);
  }

  /** The cached value, or null when it is not cached. */
  WindowValue get(int partition, WindowKey window) {
    return entries.get(new Key(partition, window));
  }

  /** Whether the store cannot hold this window: it starts after everything applied before the cache knew the partition. */
  boolean knownEmpty(int partition, WindowKey window) {
    Long h = horizon.get(partition);
    return h != null && window.start() > h;
  }

  void put(int partition, WindowKey window, WindowValue value) {
    entries.put(new Key(partition, window), value);
  }

  int size() {
    return entries.size();
  }

  private void evicted(Key key) {
    // Windows of this partition starting at or before the evicted one may be stored but not cached.
    horizon.computeIfPresent(key.partition(), (p, h) -> Math.max(h, key.window().start()));
  }
}
