package io.tributary.common.input;

import java.util.ArrayList;
import java.util.Collections;
import java.util.Iterator;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Set;

/**
 * One read of an input bus: records grouped by shard, each shard's in position order.
 *
 * @param source the bus the records came from, as the pipeline names it ({@code kafka:events.enriched}),
 *     for dead letters
 * @param commit what to commit with the batch's outputs, or null when the bus keeps no such commit
 * @param seeks per shard, how many times the adapter had moved the shard's read position when it read
 *     this batch: a processor that asked for a shard to be re-read from elsewhere knows the batches
 *     read before that took effect by their lower count
 */
public record InputBatch(String source, Map<Integer, List<InputRecord>> byShard, InputCommit commit, Map<Integer, Long> seeks)
    implements Iterable<InputRecord> {

  public InputBatch {
    byShard = Collections.unmodifiableMap(new LinkedHashMap<>(byShard));
    seeks = Map.copyOf(seeks);
  }

  public static InputBatch of(String source, List<InputRecord> records, InputCommit commit) {
    Map<Integer, List<InputRecord>> byShard = new LinkedHashMap<>();
    for (InputRecord r : records) {
      byShard.computeIfAbsent(r.shard(), s -> new ArrayList<>()).add(r);
    }
    return new InputBatch(source, byShard, commit, Map.of());
  }

  /** How many times the shard's read position had been moved when this batch was read. */
  public long seeks(int shard) {
    return seeks.getOrDefault(shard, 0L);
  }

  public Set<Integer> shards() {
    return byShard.keySet();
  }

  public List<InputRecord> records(int shard) {
    return byShard.getOrDefault(shard, List.of());
  }

  public int count() {
    int n = 0;
    for (List<InputRecord> list : byShard.values()) {
      n += list.size();
    }
    return n;
  }

  public boolean isEmpty() {
    return byShard.isEmpty();
  }

  /** The lowest position of each shard in this batch. */
  public Map<Integer, Long> firstPositions() {
    Map<Integer, Long> first = new LinkedHashMap<>();
    byShard.forEach((shard, list) -> first.put(shard, list.get(0).position()));
    return first;
  }

  /** The position after the last record of each shard: where the next read continues. */
  public Map<Integer, Long> nextPositions() {
    Map<Integer, Long> next = new LinkedHashMap<>();
    byShard.forEach((shard, list) -> next.put(shard, list.get(list.size() - 1).position() + 1));
    return next;
  }

  @Override
  public Iterator<InputRecord> iterator() {
    return byShard.values().stream().flatMap(List::stream).iterator();
  }
}
