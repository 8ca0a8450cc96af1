package io.tributary.common.input;

import static org.assertj.core.api.Assertions.assertThat;

import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.Executors;
import java.util.concurrent.ScheduledExecutorService;
import java.util.concurrent.TimeUnit;
import org.junit.jupiter.api.Test;

class InFlightBatchesTest {

  /** A batch of shard → positions from..to (inclusive). */
  private static InputBatch batch(int shard, long from, long to) {
    return batch(Map.of(shard, new long[] {from, to}));
  }

  /** A batch of shard → [first, last] positions. */
  private static InputBatch batch(Map<Integer, long[]> ranges) {
    List<InputRecord> records = new ArrayList<>();
    ranges.forEach((shard, r) -> {
      for (long p = r[0]; p <= r[1]; p++) {
        records.add(new InputRecord("k", new byte[0], Map.of(), -1, shard, p));
      }
    });
    return InputBatch.of("test", records, null);
  }

  private static final InputBatch NONE = InputBatch.of("test", List.of(), null);

  @Test
  void batchesSettleInReadOrderEvenWhenALaterOneFinishesFirst() {
    InFlightBatches inFlight = new InFlightBatches(3);
    CompletableFuture<Map<Integer, Long>> first = new CompletableFuture<>();
    CompletableFuture<Map<Integer, Long>> second = new CompletableFuture<>();
    inFlight.add(batch(0, 0, 9), first);
    inFlight.add(batch(0, 10, 19), second);
    second.complete(Map.of(0, 5L));
    assertThat(inFlight.settle(NONE).seeks()).as("the second waits for the first").isEmpty();
    assertThat(inFlight.size()).isEqualTo(2);
    first.complete(Map.of());
    InFlightBatches.Settled settled = inFlight.settle(NONE);
    assertThat(settled.rewound()).isFalse();
    assertThat(settled.seeks()).isEqualTo(Map.of(0, 5L));
    assertThat(inFlight.isEmpty()).isTrue();
  }

  @Test
  void readingWaitsForTheOldestWhileMaxInFlightAreProcessing() {
    InFlightBatches inFlight = new InFlightBatches(2);
    CompletableFuture<Map<Integer, Long>> first = new CompletableFuture<>();
    inFlight.add(batch(0, 0, 9), first);
    inFlight.add(batch(0, 10, 19), new CompletableFuture<>());
    ScheduledExecutorService timer = Executors.newSingleThreadScheduledExecutor();
    try {
      long start = System.nanoTime();
      timer.schedule(() -> first.complete(Map.of()), 200, TimeUnit.MILLISECONDS);
      inFlight.settle(NONE);
      assertThat(TimeUnit.NANOSECONDS.toMillis(System.nanoTime() - start)).isGreaterThanOrEqualTo(150);
      assertThat(inFlight.size()).as("room for one more").isEqualTo(1);
    } finally {
      timer.shutdownNow();
    }
  }

  @Test
  void aFailureRewindsItAndEveryLaterBatchIncludingTheOneJustReadToTheirLowestPositions() {
    InFlightBatches inFlight = new InFlightBatches(3);
    CompletableFuture<Map<Integer, Long>> failed = new CompletableFuture<>();
    CompletableFuture<Map<Integer, Long>> later = new CompletableFuture<>();
    inFlight.add(batch(Map.of(0, new long[] {100, 199}, 1, new long[] {50, 59})), failed);
    inFlight.add(batch(Map.of(0, new long[] {200, 299}, 2, new long[] {7, 8})), later);
    failed.completeExceptionally(new IllegalStateException("store down"));
    later.complete(Map.of());
    InFlightBatches.Settled settled = inFlight.settle(batch(3, 30, 31));
    assertThat(settled.rewound()).isTrue();
    assertThat(settled.rewind()).isEqualTo(Map.of(0, 100L, 1, 50L, 2, 7L, 3, 30L));
    assertThat(settled.failure()).hasMessage("store down");
    assertThat(settled.failedRecords()).isEqualTo(110);
    assertThat(inFlight.isEmpty()).isTrue();
    assertThat(inFlight.epoch()).isEqualTo(1);
  }

  @Test
  void overlappingBatchesAfterARewindAreReadAgainFromTheLowestNotTheFailedOnesFirst() {
    // A batch re-read after one failure (positions 100..) fails behind a newer one that started lower
    // (50..: read before the rewind took effect). Rewinding to the failed one's 100 would lose 50..99.
    InFlightBatches inFlight = new InFlightBatches(2);
    CompletableFuture<Map<Integer, Long>> rereadFailed = new CompletableFuture<>();
    CompletableFuture<Map<Integer, Long>> newer = new CompletableFuture<>();
    inFlight.add(batch(0, 100, 149), rereadFailed);
    inFlight.add(batch(0, 50, 99), newer);
    rereadFailed.completeExceptionally(new RuntimeException("timeout"));
    newer.completeExceptionally(new RuntimeException("timeout"));
    assertThat(inFlight.settle(NONE).rewind()).isEqualTo(Map.of(0, 50L));
  }

  @Test
  void theProcessorsOwnSeeksNeverMoveARewindForward() {
    InFlightBatches inFlight = new InFlightBatches(3);
    CompletableFuture<Map<Integer, Long>> ok = CompletableFuture.completedFuture(Map.of(0, 40L));
    CompletableFuture<Map<Integer, Long>> failed = CompletableFuture.failedFuture(new RuntimeException("x"));
    inFlight.add(batch(0, 60, 69), ok);
    inFlight.add(batch(0, 70, 79), failed);
    assertThat(inFlight.settle(NONE).rewind()).isEqualTo(Map.of(0, 40L));
  }

  @Test
  void theBackoffDoublesPerFailureInARowUpToTenSecondsAndResetsOnSuccess() {
    InFlightBatches inFlight = new InFlightBatches(1);
    List<Long> waits = new ArrayList<>();
    for (int i = 0; i < 8; i++) {
      inFlight.add(batch(0, 0, 0), CompletableFuture.failedFuture(new RuntimeException("down")));
      inFlight.settle(NONE);
      waits.add(inFlight.backoffMs());
    }
    assertThat(waits).containsExactly(250L, 500L, 1000L, 2000L, 4000L, 8000L, 10_000L, 10_000L);
    assertThat(inFlight.epoch()).isEqualTo(8);
    inFlight.add(batch(0, 0, 0), CompletableFuture.completedFuture(Map.of()));
    inFlight.settle(NONE);
    assertThat(inFlight.backoffMs()).isZero();
  }

  @Test
  void drainWaitsForEveryBatchAndABatchThatNeverAnswersCountsAsFailed() {
    InFlightBatches inFlight = new InFlightBatches(4, 300);
    inFlight.add(batch(0, 0, 9), CompletableFuture.completedFuture(Map.of()));
    inFlight.add(batch(0, 10, 19), new CompletableFuture<>());
    InFlightBatches.Settled settled = inFlight.drain();
    assertThat(settled.rewind()).as("the silent batch is read again").isEqualTo(Map.of(0, 10L));
    assertThat(inFlight.isEmpty()).isTrue();
  }
}
