package io.tributary.common.state;

/**
 * One window of one group of one aggregation: what a stored partial, a cache entry or an update
 * record is about. A hash-map key on every path of a batch, so its hash is computed once.
 */
public final class WindowKey {

  private final String aggregation;
  private final long start;
  private final String group;
  private final int hash;

  public WindowKey(String aggregation, long start, String group) {
    this.aggregation = aggregation;
    this.start = start;
    this.group = group;
    this.hash = (group.hashCode() * 31 + Long.hashCode(start * 0x9E3779B97F4A7C15L)) * 31 + aggregation.hashCode();
  }

  public String aggregation() {
    return aggregation;
  }

  public long start() {
    return start;
  }

  public String group() {
    return group;
  }

  @Override
  public boolean equals(Object o) {
    return this == o || o instanceof WindowKey w && hash == w.hash && start == w.start && group.equals(w.group)
        && aggregation.equals(w.aggregation);
  }

  @Override
  public int hashCode() {
    return hash;
  }

  @Override
  public String toString() {
    return aggregation + "@" + start + "/" + group;
  }
}
