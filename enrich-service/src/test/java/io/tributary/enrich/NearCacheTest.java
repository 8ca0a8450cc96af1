package io.tributary.enrich;

import static org.assertj.core.api.Assertions.assertThat;

import org.junit.jupiter.api.Test;

class NearCacheTest {

  @Test
  void entriesExpireAfterTheirTtl() {
    NearCache<String> cache = new NearCache<>(10, 1000);
    cache.put("a", "A", 0);
    assertThat(cache.get("a", 999)).isEqualTo("A");
    assertThat(cache.get("a", 1000)).isNull();
    assertThat(cache.size()).isZero();
  }

  @Test
  void leastRecentlyUsedIsEvictedBeyondTheBound() {
    NearCache<String> cache = new NearCache<>(2, 10_000);
    cache.put("a", "A", 0);
    cache.put("b", "B", 0);
    cache.get("a", 1);
    cache.put("c", "C", 2);
    assertThat(cache.get("b", 3)).isNull();
    assertThat(cache.get("a", 3)).isEqualTo("A");
    assertThat(cache.size()).isEqualTo(2);
  }

  @Test
  void absentValuesAreCachedAndHitsCounted() {
    NearCache<String> cache = new NearCache<>(2, 10_000);
    cache.put("x", null, 0);
    assertThat(cache.get("x", 1)).isSameAs(NearCache.ABSENT);
    assertThat(cache.get("y", 1)).isNull();
    assertThat(cache.hits()).isEqualTo(1);
    assertThat(cache.misses()).isEqualTo(1);
  }
}
