package io.tributary.common.state;

/** One window of one group of one aggregation: what a stored partial, a cache entry or an update record is about. */
public record WindowKey(String aggregation, long start, String group) {
}
