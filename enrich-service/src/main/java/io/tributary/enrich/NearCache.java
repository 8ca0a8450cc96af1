package io.tributary.enrich;

import java.util.LinkedHashMap;
import java.util.Map;

/**
 * A bounded, least-recently-used cache whose entries expire {@code ttlMillis} after they were
 * loaded. Absent reference records are cached too (as {@link #ABSENT}), so a hot unknown key does not
 * reach the store on every event. Not thread-safe: one instance per event loop.
 */
public final class NearCache<V> {

  /** Marks a key known to have no value in the store. */
  public static final Object ABSENT = new Object();

  private final int maxEntries;
  private final long ttlMillis;
  private final LinkedHashMap<String, Entry> entries;
  private long hits;
  private long misses;

  private record Entry(Object value, long expiresAt) {
  }

  public NearCache(int maxEntries, long ttlMillis) {
    this.maxEntries = maxEntries;
    this.ttlMillis = ttlMillis;
    this.entries = new LinkedHashMap<>(Math.min(maxEntries, 1 << 16), 0.75f, true) {
      @Override
      protected boolean removeEldestEntry(Map.Entry<String, Entry> eldest) {
        return size() > NearCache.this.maxEntries;
      }
    };
  }

  /** The cached value, {@link #ABSENT}, or null when the key is not cached (or expired). */
  public Object get(String key, long nowMillis) {
    Entry entry = entries.get(key);
    if (entry == null || entry.expiresAt <= nowMillis) {
      if (entry != null) {
        entries.remove(key);
      }
      misses++;
      return null;
    }
    hits++;
    return entry.value;
  }

  /** {@code value} null means the store has nothing for the key. */
  public void put(String key, V value, long nowMillis) {
    entries.put(key, new Entry(value == null ? ABSENT : value, nowMillis + ttlMillis));
  }

  public void invalidate(String key) {
    entries.remove(key);
  }

  public int size() {
    return entries.size();
  }

  public long hits() {
    return hits;
  }

  public long misses() {
    return misses;
  }
}
