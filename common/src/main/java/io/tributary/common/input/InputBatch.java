package io.tributary.common.input;

import io.tributary.common.bus.BusMessage;
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
 * @param spans per shard, the source positions an in-process hand-off covers (the stages before it may
 *     have consumed some without output); its records' positions are then not source positions
 * @param carried per shard, what the stages before this one in the same process made of the batch's
 *     input besides its records (dead letters), for the last stage to publish exactly once with its own
 */
public record InputBatch(String source, Map<Integer, List<InputRecord>> byShard, InputCommit commit, Map<Integer, Long> seeks,
    Map<Integer, Span> spans, Map<Integer, List<BusMessage>> carried) implements Iterable<InputRecord> {

  /** Source positions from {@code start} to before {@code end}. */
  public record Span(long start, long end) {
  }

  public InputBatch {
    byShard = Collections.unmodifiableMap(new LinkedHashMap<>(byShard));
    seeks = Map.copyOf(seeks);
    spans = Map.copyOf(spans);
    carried = Map.copyOf(carried);
  }

  /** A batch as a bus delivers it: each shard ends after its last record, and nothing is carried. */
  public InputBatch(String source, Map<Integer, List<InputRecord>> byShard, InputCommit commit, Map<Integer, Long> seeks) {
    this(source, byShard, commit, seeks, Map.of(), Map.of());
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

  /** Whether the shard's part is an in-process hand-off: its extent is its span, not its records' positions. */
  public boolean spanned(int shard) {
    return spans.containsKey(shard);
  }

  /** Where the shard's part starts: its span's start, or its first record's position; -1 for none. */
  public long start(int shard) {
    Span span = spans.get(shard);
    if (span != null) {
      return span.start();
    }
    List<InputRecord> list = records(shard);
    return list.isEmpty() ? -1 : list.get(0).position();
  }

  /** Where the shard's input continues after this batch: its span's end, or past its last record; -1 for none. */
  public long end(int shard) {
    Span span = spans.get(shard);
    if (span != null) {
      return span.end();
    }
    List<InputRecord> list = records(shard);
    return list.isEmpty() ? -1 : list.get(list.size() - 1).position() + 1;
  }

  /** The outputs of earlier stages in this process that ride with the shard's part of the batch. */
  public List<BusMessage> carried(int shard) {
    return carried.getOrDefault(shard, List.of());
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
    byShard.forEach((shard, list) -> {
      if (!list.isEmpty()) {
        first.put(shard, list.get(0).position());
      }
    });
    return first;
  }

  /** The position after the last record of each shard: where the next read continues. */
  public Map<Integer, Long> nextPositions() {
    Map<Integer, Long> next = new LinkedHashMap<>();
    byShard.keySet().forEach(shard -> {
      long end = end(shard);
      if (end >= 0) {
        next.put(shard, end);
      }
    });
    return next;
  }

  @Override
  public Iterator<InputRecord> iterator() {
    return byShard.values().stream().flatMap(List::stream).iterator();
  }
}
