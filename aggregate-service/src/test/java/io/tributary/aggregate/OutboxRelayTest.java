package io.tributary.aggregate;

import static org.assertj.core.api.Assertions.assertThat;

import io.tributary.common.bus.BusMessage;
import io.tributary.common.pipeline.BusRef;
import io.vertx.core.Future;
import io.vertx.core.Promise;
import io.vertx.core.Vertx;
import io.vertx.junit5.VertxExtension;
import io.vertx.junit5.VertxTestContext;
import java.nio.charset.StandardCharsets;
import java.util.ArrayList;
import java.util.HashMap;
import java.util.List;
import java.util.Map;
import java.util.concurrent.TimeUnit;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.extension.ExtendWith;

/**
 * The relay's ordering and recovery rules, without I/O: its sink, cursors and backlog are driven by
 * the test, which decides when each transaction lands, fails, or lands with its answer lost.
 */
@ExtendWith(VertxExtension.class)
class OutboxRelayTest {

  private static final BusRef DLQ = new BusRef(BusRef.Kind.KAFKA, "dlq");

  /** The transactions the relay opened, in order, each settled by the test. */
  private final List<Transaction> transactions = new ArrayList<>();
  /** The committed relayed position per partition, as the bus would report it. */
  private final Map<Integer, Long> committed = new HashMap<>();
  /** The stored outbox per partition. */
  private final Map<Integer, List<RelayEntry>> stored = new HashMap<>();
  private OutboxRelay relay;

  private record Transaction(List<String> records, Map<Integer, Long> positions, Promise<Void> outcome) {
  }

  @BeforeEach
  void relay(Vertx vertx) {
    relay = new OutboxRelay(vertx,
        (records, positions) -> {
          Promise<Void> outcome = Promise.promise();
          transactions.add(new Transaction(records.stream().map(r -> new String(r.value(), StandardCharsets.UTF_8)).toList(),
              Map.copyOf(positions), outcome));
          return outcome.future();
        },
        partitions -> {
          Map<Integer, Long> out = new HashMap<>();
          partitions.forEach(p -> out.put(p, committed.getOrDefault(p, -1L)));
          return Future.succeededFuture(out);
        },
        (partition, after) -> Future.succeededFuture(stored.getOrDefault(partition, List.of()).stream()
            .filter(e -> e.position() > after).toList()),
        entries -> Future.succeededFuture(entries.stream().flatMap(e -> e.messages().stream()).toList()));
  }

  private static RelayEntry entry(int partition, long position) {
    BusMessage record = new BusMessage(DLQ, null, (partition + "@" + position).getBytes(StandardCharsets.UTF_8), Map.of());
    return new RelayEntry(partition, position, List.of(), List.of(record), -1, List.of());
  }

  /** Lands transaction {@code i}: its positions become the committed ones. */
  private void land(int i) {
    Transaction tx = transactions.get(i);
    committed.putAll(tx.positions());
    tx.outcome().complete();
  }

  private static void await(Vertx vertx, VertxTestContext test, Runnable steps) throws Exception {
    vertx.runOnContext(v -> {
      try {
        steps.run();
        test.completeNow();
      } catch (Throwable e) {
        test.failNow(e);
      }
    });
    assertThat(test.awaitCompletion(10, TimeUnit.SECONDS)).isTrue();
    if (test.failed()) {
      throw new AssertionError(test.causeOfFailure());
    }
  }

  /** Lets the relay's backoff timers run. */
  private static void later(long ms) throws InterruptedException {
    Thread.sleep(ms);
  }

  @Test
  void oneTransactionAtATimeInPositionOrderAndWhatQueuesMeanwhileGoesInTheNext(Vertx vertx) throws Exception {
    VertxTestContext test = new VertxTestContext();
    await(vertx, test, () -> {
      relay.assign(List.of(0, 1));
      relay.submit(entry(0, 10));
      assertThat(transactions).hasSize(1);
      assertThat(transactions.get(0).records()).containsExactly("0@10");
      relay.submit(entry(1, 5));
      relay.submit(entry(0, 20));
      relay.submit(entry(0, 15)); // behind what is queued: a replay, dropped
      relay.submit(entry(0, 30));
      assertThat(transactions).as("no second transaction while one is in flight").hasSize(1);
      assertThat(relay.pending()).isEqualTo(4);
      land(0);
      assertThat(transactions).hasSize(2);
      assertThat(transactions.get(1).records()).containsSubsequence("0@20", "0@30").containsExactlyInAnyOrder("0@20", "0@30", "1@5");
      assertThat(transactions.get(1).positions()).isEqualTo(Map.of(0, 30L, 1, 5L));
      assertThat(relay.relayedUpTo(0)).isEqualTo(10);
      assertThat(relay.relayedUpTo(1)).isEqualTo(-1);
      land(1);
      assertThat(relay.relayedUpTo(0)).isEqualTo(30);
      assertThat(relay.relayedUpTo(1)).isEqualTo(5);
      assertThat(relay.pending()).isZero();
      assertThat(relay.relayedEntries()).isEqualTo(4);
    });
  }

  @Test
  void aNewOwnerRelaysWhatTheLastOneStoredButDidNotRelayFirst(Vertx vertx) throws Exception {
    committed.put(3, 100L);
    stored.put(3, List.of(entry(3, 100), entry(3, 110), entry(3, 120)));
    VertxTestContext test = new VertxTestContext();
    await(vertx, test, () -> {
      relay.assign(List.of(3));
      relay.submit(entry(3, 130));
      assertThat(transactions).hasSize(1);
      assertThat(transactions.get(0).records()).as("100 was relayed by the last owner").containsExactly("3@110", "3@120");
      land(0);
      assertThat(transactions.get(1).records()).containsExactly("3@130");
      assertThat(transactions.get(1).positions()).isEqualTo(Map.of(3, 130L));
    });
  }

  @Test
  void afterAFailedTransactionItAsksWhereTheRelayStandsAndNeverRepublishesWhatLanded(Vertx vertx) throws Exception {
    VertxTestContext submit = new VertxTestContext();
    await(vertx, submit, () -> {
      relay.assign(List.of(0, 1));
      relay.submit(entry(0, 10));
      land(0);
      relay.submit(entry(0, 20));
      relay.submit(entry(1, 7));
      // The commit landed but its answer was lost (a timeout): the relay sees a failure.
      committed.putAll(transactions.get(1).positions());
      transactions.get(1).outcome().fail("commit timed out");
    });
    later(700);
    VertxTestContext retried = new VertxTestContext();
    await(vertx, retried, () -> {
      assertThat(transactions).hasSize(3);
      assertThat(transactions.get(2).records()).as("0@20 had landed: not published again").containsExactly("1@7");
      land(2);
      relay.submit(entry(0, 30));
      assertThat(transactions.get(3).records()).containsExactly("0@30");
      // This one fails for real: nothing landed.
      transactions.get(3).outcome().fail("broker away");
    });
    later(1200);
    VertxTestContext again = new VertxTestContext();
    await(vertx, again, () -> {
      assertThat(transactions).hasSize(5);
      assertThat(transactions.get(4).records()).containsExactly("0@30");
      assertThat(transactions.get(4).positions()).isEqualTo(Map.of(0, 30L));
    });
  }

  @Test
  void aResyncRelaysAnEntryOnlyTheStoreHasBehindTheTransactionInFlight(Vertx vertx) throws Exception {
    VertxTestContext test = new VertxTestContext();
    await(vertx, test, () -> {
      relay.assign(List.of(2));
      relay.submit(entry(2, 10));
      // An apply of position 20 landed, but its caller saw a failure and never submitted it; its retry conflicts.
      stored.put(2, List.of(entry(2, 10), entry(2, 20)));
      relay.resync(2);
      assertThat(transactions).as("the resync waits for the transaction holding the partition").hasSize(1);
      land(0);
      assertThat(transactions).hasSize(2);
      assertThat(transactions.get(1).records()).as("10 had landed; 20 comes from the store").containsExactly("2@20");
      land(1);
      relay.submit(entry(2, 30));
      assertThat(transactions.get(2).records()).containsExactly("2@30");
    });
  }

  @Test
  void releaseCompletesOnlyOnceTheTransactionHoldingThePartitionSettled(Vertx vertx) throws Exception {
    List<Future<Void>> released = new ArrayList<>();
    VertxTestContext test = new VertxTestContext();
    await(vertx, test, () -> {
      relay.assign(List.of(0, 1));
      relay.submit(entry(0, 10));
      released.add(relay.release(List.of(0)));
      released.add(relay.release(List.of(1)));
      assertThat(released.get(0).isComplete()).as("partition 0 is in the transaction in flight").isFalse();
      assertThat(released.get(1).succeeded()).isTrue();
      land(0);
      assertThat(released.get(0).succeeded()).isTrue();
      relay.submit(entry(1, 3)); // after release it is taken on again, as on a new assignment
      assertThat(transactions).hasSize(2);
    });
  }

  @Test
  void theStageWaitsWhileTooManyEntriesAreQueued(Vertx vertx) throws Exception {
    List<Future<Void>> waits = new ArrayList<>();
    VertxTestContext test = new VertxTestContext();
    await(vertx, test, () -> {
      relay.assign(List.of(0));
      relay.submit(entry(0, 1));
      relay.submit(entry(0, 2));
      relay.submit(entry(0, 3));
      waits.add(relay.whenBelow(3));
      waits.add(relay.whenBelow(10));
      assertThat(waits.get(0).isComplete()).isFalse();
      assertThat(waits.get(1).succeeded()).isTrue();
      land(0);
      assertThat(waits.get(0).succeeded()).as("two left, in the next transaction").isTrue();
    });
  }
}
