package io.tributary.enrich;

import io.micrometer.core.instrument.Counter;
import io.micrometer.core.instrument.MeterRegistry;
import io.micrometer.core.instrument.Timer;
import io.tributary.common.pipeline.Lookup;
import io.vertx.core.Future;
import java.util.HashMap;
import java.util.HashSet;
import java.util.List;
import java.util.Map;
import java.util.Set;

/**
 * Answers a batch's look-ups: from each look-up's near-cache where it has one, and the rest from the
 * store in one round trip. Cache hits and misses and store latency go to /metrics.
 */
public final class LookupResolver {

  private final ReferenceStore store;
  private final Map<Lookup, NearCache<Object>> caches = new HashMap<>();
  private final Map<Lookup, Counter> hits = new HashMap<>();
  private final Map<Lookup, Counter> misses = new HashMap<>();
  private final Timer latency;

  public LookupResolver(ReferenceStore store, List<Lookup> lookups, MeterRegistry registry, String pipeline) {
    this.store = store;
    this.latency = Timer.builder("tributary.lookup.latency").description("Round trip of one batch of look-ups to the store")
        .tags("pipeline", pipeline).publishPercentileHistogram().register(registry);
    for (Lookup lookup : lookups) {
      if (lookup.cache() != null) {
        caches.put(lookup, new NearCache<>(lookup.cache().maxEntries(), lookup.cache().ttl().toMillis()));
        hits.put(lookup, Counter.builder("tributary.lookup.cache").tags("pipeline", pipeline, "lookup", lookup.name(), "result", "hit")
            .description("Near-cache look-ups by result").register(registry));
        misses.put(lookup, Counter.builder("tributary.lookup.cache").tags("pipeline", pipeline, "lookup", lookup.name(), "result", "miss")
            .description("Near-cache look-ups by result").register(registry));
      }
    }
  }

  /** Drops a key from this instance's near-cache after the reference data changed through this instance. */
  public void invalidate(Lookup lookup, String key) {
    NearCache<Object> cache = caches.get(lookup);
    if (cache != null) {
      cache.invalidate(key);
    }
  }

  public Future<Enricher.Found> resolve(Map<Lookup, Set<String>> wanted) {
    long now = System.currentTimeMillis();
    Map<Lookup, Map<String, Object>> cached = new HashMap<>();
    Map<Lookup, Set<String>> toFetch = new HashMap<>();
    wanted.forEach((lookup, keys) -> {
      NearCache<Object> cache = caches.get(lookup);
      if (cache == null) {
        toFetch.put(lookup, keys);
        return;
      }
      Map<String, Object> fromCache = new HashMap<>();
      Set<String> missing = new HashSet<>();
      for (String key : keys) {
        Object value = cache.get(key, now);
        if (value == null) {
          missing.add(key);
        } else {
          fromCache.put(key, value);
        }
      }
      hits.get(lookup).increment(fromCache.size());
      misses.get(lookup).increment(missing.size());
      cached.put(lookup, fromCache);
      toFetch.put(lookup, missing);
    });
    long start = System.nanoTime();
    return store.fetch(toFetch).map(fetched -> {
      latency.record(System.nanoTime() - start, java.util.concurrent.TimeUnit.NANOSECONDS);
      fill(toFetch, fetched, now);
      return found(cached, fetched);
    });
  }

  private void fill(Map<Lookup, Set<String>> fetchedKeys, ReferenceStore.Fetched fetched, long now) {
    fetchedKeys.forEach((lookup, keys) -> {
      NearCache<Object> cache = caches.get(lookup);
      if (cache == null) {
        return;
      }
      for (String key : keys) {
        Object value = lookup.isSet()
            ? Boolean.valueOf(fetched.members().getOrDefault(lookup, Set.of()).contains(key))
            : fetched.records().getOrDefault(lookup, Map.of()).get(key);
        cache.put(key, value, now);
      }
    });
  }

  @SuppressWarnings("unchecked")
  private static Enricher.Found found(Map<Lookup, Map<String, Object>> cached, ReferenceStore.Fetched fetched) {
    return new Enricher.Found() {
      @Override
      public Map<String, String> record(Lookup lookup, String key) {
        Object value = cached.getOrDefault(lookup, Map.of()).get(key);
        if (value != null) {
          return value == NearCache.ABSENT ? null : (Map<String, String>) value;
        }
        return fetched.records().getOrDefault(lookup, Map.of()).get(key);
      }

      @Override
      public boolean member(Lookup lookup, String key) {
        Object value = cached.getOrDefault(lookup, Map.of()).get(key);
        if (value != null) {
          return Boolean.TRUE.equals(value);
        }
        return fetched.members().getOrDefault(lookup, Set.of()).contains(key);
      }
    };
  }
}
