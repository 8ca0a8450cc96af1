package io.tributary.common.input;

import java.util.ArrayDeque;
import java.util.HashMap;
import java.util.Map;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.TimeUnit;

/**
 * The batches an input adapter handed to its processor and has not settled yet, and the rules every
 * adapter keeps, whatever the bus:
 * <ul>
 *   <li>batches settle strictly in read order, so positions commit in order;</li>
 *   <li>at most {@code maxInFlight} are processing: reading waits on the oldest;</li>
 *   <li>when one fails, it and every batch after it, including the one just read and not handed over,
 *       are read again from the lowest position each shard has in them. The lowest, not the failed
 *       batch's: a batch re-read after one failure may itself fail behind a newer one, and overlapping
 *       batches must not skip the records between them;</li>
 *   <li>each rewind starts a new epoch: outputs of batches read before it are refused;</li>
 *   <li>the wait before re-reading doubles per failure in a row, from 250 ms to 10 s.</li>
 * </ul>
 * Not thread-safe: one adapter thread calls it; the results complete on any thread.
 */
public final class InFlightBatches {

  public static final long BATCH_TIMEOUT_MS = 30_000;
  private static final long FIRST_BACKOFF_MS = 250;
  private static final long MAX_BACKOFF_MS = 10_000;

  /**
   * What settling decided. {@code seeks}: positions the processor asked to re-read from, in read order
   * (a later ask for the same shard wins). {@code rewind}: when a batch failed, the position to re-read
   * each shard from, else null.
   */
  public record Settled(Map<Integer, Long> seeks, Map<Integer, Long> rewind, Throwable failure, int failedRecords) {

    public boolean rewound() {
      return rewind != null;
    }
  }

  private record Entry(InputBatch batch, CompletableFuture<Map<Integer, Long>> result) {
  }

  private final ArrayDeque<Entry> entries = new ArrayDeque<>();
  private final int maxInFlight;
  private final long timeoutMs;
  private long epoch;
  private long backoffMs;

  public InFlightBatches(int maxInFlight) {
    this(maxInFlight, BATCH_TIMEOUT_MS);
  }

  InFlightBatches(int maxInFlight, long timeoutMs) {
    this.maxInFlight = Math.max(1, maxInFlight);
    this.timeoutMs = timeoutMs;
  }

  public void add(InputBatch batch, CompletableFuture<Map<Integer, Long>> result) {
    entries.add(new Entry(batch, result));
  }

  public boolean isEmpty() {
    return entries.isEmpty();
  }

  public int size() {
    return entries.size();
  }

  /** Grows at every rewind; a batch's outputs carry the epoch it was read in. */
  public long epoch() {
    return epoch;
  }

  /** The wait before reading again after the last rewind. */
  public long backoffMs() {
    return backoffMs;
  }

  /**
   * Settles the finished batches at the head and, while {@code maxInFlight} are processing, the
   * oldest (waiting for it). {@code justRead} is the batch read since and not handed over yet (empty
   * if none): it is part of a rewind.
   */
  public Settled settle(InputBatch justRead) {
    return settle(justRead, false);
  }

  /** Settles every batch in flight, waiting for each: before positions move on revoke or stop. */
  public Settled drain() {
    return settle(null, true);
  }

  private Settled settle(InputBatch justRead, boolean all) {
    Map<Integer, Long> seeks = new HashMap<>();
    while (!entries.isEmpty() && (all || entries.peek().result().isDone() || entries.size() >= maxInFlight)) {
      Entry head = entries.poll();
      try {
        seeks.putAll(head.result().get(timeoutMs, TimeUnit.MILLISECONDS));
        backoffMs = 0;
      } catch (Exception e) {
        backoffMs = backoffMs == 0 ? FIRST_BACKOFF_MS : Math.min(backoffMs * 2, MAX_BACKOFF_MS);
        Map<Integer, Long> rewind = new HashMap<>(head.batch().firstPositions());
        // Later batches did not publish (processors chain each batch on the one before), so read them again too.
        while (!entries.isEmpty()) {
          Entry later = entries.poll();
          awaitQuietly(later.result());
          later.batch().firstPositions().forEach((shard, p) -> rewind.merge(shard, p, Math::min));
        }
        if (justRead != null) {
          justRead.firstPositions().forEach((shard, p) -> rewind.merge(shard, p, Math::min));
        }
        seeks.forEach((shard, p) -> rewind.merge(shard, p, Math::min));
        epoch++;
        return new Settled(Map.of(), rewind, cause(e), head.batch().count());
      }
    }
    return new Settled(seeks, null, null, 0);
  }

  private void awaitQuietly(CompletableFuture<?> future) {
    try {
      future.get(timeoutMs, TimeUnit.MILLISECONDS);
    } catch (Exception ignored) {
      // its records are read again
    }
  }

  private static Throwable cause(Exception e) {
    return e.getCause() != null ? e.getCause() : e;
  }
}
