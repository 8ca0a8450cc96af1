package io.tributary.aggregate;

import io.tributary.common.bus.BusMessage;
import io.tributary.common.logging.LogFields;
import io.vertx.core.Future;
import io.vertx.core.Promise;
import io.vertx.core.Vertx;
import java.util.ArrayDeque;
import java.util.ArrayList;
import java.util.Collection;
import java.util.HashMap;
import java.util.Iterator;
import java.util.List;
import java.util.Map;
import java.util.TreeMap;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * Relays the outbox entries of applied batches to the buses, so that no window update and no dead
 * letter is lost when an instance dies between applying a batch and publishing its outputs, and
 * none is published twice. Each partition's entries go out in position order; one transaction at a
 * time carries the entries of every partition that has some, and commits, with them, each
 * partition's relayed position (as the consumer group's offset: {@link Sink}). A new owner of a
 * partition first asks where the relay of the last owner stopped, reads the entries after that from
 * the store, and publishes those before anything new. A revoked partition is released only once no
 * transaction holding its entries is in flight, so the next owner's read of the relayed position sees
 * the final one.
 *
 * <p>Entries of a failed transaction stay queued; after a backoff the relay asks again where each
 * partition's relay stands (a commit whose answer was lost may have landed) and carries on from
 * there. Memory is bounded: the stage waits ({@link #whenBelow}) while too many entries are queued.
 * Runs on one Vert.x context; every method is called on it.
 */
final class OutboxRelay {

  private static final Logger LOG = LoggerFactory.getLogger(OutboxRelay.class);
  private static final long MAX_BACKOFF_MS = 5_000;

  /** Publishes the records of some entries and commits each partition's relayed position with them, atomically. */
  interface Sink {
    Future<Void> publish(List<BusMessage> records, Map<Integer, Long> relayedPositions);
  }

  /** Where the relay of each partition stands: the last relayed position, or -1 when none was ever committed. */
  interface Cursors {
    Future<Map<Integer, Long>> relayed(Collection<Integer> partitions);
  }

  /** The stored entries of a partition after a position, oldest first. */
  interface Backlog {
    Future<List<RelayEntry>> after(int partition, long position);
  }

  /** The bus records of some entries, in order. */
  interface Records {
    Future<List<BusMessage>> of(List<RelayEntry> entries);
  }

  /** One partition's queue. {@code taken} entries at its head are in the transaction in flight. */
  private static final class Lane {
    final ArrayDeque<RelayEntry> pending = new ArrayDeque<>();
    long relayed = -1;
    boolean ready;
    int taken;
    /** The store has entries this lane may not hold (a batch applied though its caller saw a failure): read them once idle. */
    boolean resync;
  }

  private final Vertx vertx;
  private final Sink sink;
  private final Cursors cursors;
  private final Backlog backlog;
  private final Records records;
  private final Map<Integer, Lane> lanes = new HashMap<>();
  private final List<Waiter> waiters = new ArrayList<>();
  private Future<Void> inFlight;
  private long backoffMs;
  private boolean closed;
  private long relayedEntries;

  private record Waiter(int below, Promise<Void> promise) {
  }

  OutboxRelay(Vertx vertx, Sink sink, Cursors cursors, Backlog backlog, Records records) {
    this.vertx = vertx;
    this.sink = sink;
    this.cursors = cursors;
    this.backlog = backlog;
    this.records = records;
  }

  /** Takes on partitions: their backlog is relayed first. */
  void assign(Collection<Integer> partitions) {
    for (int partition : partitions) {
      lane(partition);
    }
  }

  /** Queues an applied batch's entry behind the partition's earlier ones. */
  void submit(RelayEntry entry) {
    Lane lane = lane(entry.partition());
    RelayEntry last = lane.pending.peekLast();
    if (entry.position() > lane.relayed && (last == null || entry.position() > last.position())) {
      lane.pending.add(entry);
    }
    pump();
  }

  /**
   * Reads the partition's stored entries again: after a position conflict, the store may hold an
   * entry this relay never saw (an apply that landed though its answer was lost, or another owner's).
   */
  void resync(int partition) {
    Lane lane = lanes.get(partition);
    if (lane == null) {
      return;
    }
    if (lane.taken > 0) {
      lane.resync = true;
    } else {
      recover(partition, lane, true);
    }
  }

  /** Gives partitions up; completes once no transaction holding their entries is in flight. */
  Future<Void> release(Collection<Integer> partitions) {
    boolean involved = false;
    for (int partition : partitions) {
      Lane lane = lanes.remove(partition);
      involved |= lane != null && lane.taken > 0;
    }
    notifyWaiters();
    return involved && inFlight != null ? inFlight.transform(ar -> Future.succeededFuture()) : Future.succeededFuture();
  }

  /** The last position relayed for the partition, or -1: the store may drop the entries up to it. */
  long relayedUpTo(int partition) {
    Lane lane = lanes.get(partition);
    return lane == null ? -1 : lane.relayed;
  }

  /** Entries waiting to be relayed, over every partition. */
  int pending() {
    int n = 0;
    for (Lane lane : lanes.values()) {
      n += lane.pending.size();
    }
    return n;
  }

  long relayedEntries() {
    return relayedEntries;
  }

  /** Completes once fewer than {@code below} entries wait: the stage's backpressure. */
  Future<Void> whenBelow(int below) {
    if (pending() < below || closed) {
      return Future.succeededFuture();
    }
    Promise<Void> promise = Promise.promise();
    waiters.add(new Waiter(below, promise));
    return promise.future();
  }

  /** Stops relaying; completes once the transaction in flight settled. */
  Future<Void> close() {
    closed = true;
    waiters.forEach(w -> w.promise().tryComplete());
    waiters.clear();
    return inFlight == null ? Future.succeededFuture() : inFlight.transform(ar -> Future.succeededFuture());
  }

  private Lane lane(int partition) {
    Lane lane = lanes.get(partition);
    if (lane == null) {
      lane = new Lane();
      lanes.put(partition, lane);
      recover(partition, lane, true);
    }
    return lane;
  }

  /**
   * Learns where the partition's relay stands and drops what was relayed; on assignment also reads
   * the stored entries after it, which the last owner may not have relayed.
   */
  private void recover(int partition, Lane lane, boolean readBacklog) {
    lane.ready = false;
    cursors.relayed(List.of(partition))
        .compose(relayed -> {
          long cursor = relayed.getOrDefault(partition, -1L);
          return readBacklog ? backlog.after(partition, cursor).map(stored -> Map.entry(cursor, stored))
              : Future.succeededFuture(Map.entry(cursor, List.<RelayEntry>of()));
        })
        .onComplete(ar -> {
          if (lanes.get(partition) != lane || closed) {
            return;
          }
          if (ar.failed()) {
            LogFields.forPartition(partition, () -> LOG.warn("cannot learn where the relay of partition {} stands yet ({}); retrying",
                partition, ar.cause().getMessage()));
            vertx.setTimer(nextBackoff(), t -> {
              if (lanes.get(partition) == lane) {
                recover(partition, lane, readBacklog);
              }
            });
            return;
          }
          long cursor = ar.result().getKey();
          TreeMap<Long, RelayEntry> merged = new TreeMap<>();
          ar.result().getValue().forEach(e -> merged.put(e.position(), e));
          lane.pending.forEach(e -> merged.putIfAbsent(e.position(), e));
          lane.pending.clear();
          merged.tailMap(cursor, false).values().forEach(lane.pending::add);
          lane.relayed = Math.max(lane.relayed, cursor);
          lane.ready = true;
          if (!ar.result().getValue().isEmpty()) {
            LogFields.forPartition(partition, () -> LOG.info("partition {}: relaying {} stored entries after position {}", partition,
                ar.result().getValue().size(), cursor));
          }
          notifyWaiters();
          pump();
        });
  }

  private void pump() {
    if (inFlight != null || closed) {
      return;
    }
    List<RelayEntry> batch = new ArrayList<>();
    Map<Integer, Long> positions = new HashMap<>();
    Map<Integer, Lane> involved = new HashMap<>();
    lanes.forEach((partition, lane) -> {
      if (lane.ready && !lane.pending.isEmpty()) {
        batch.addAll(lane.pending);
        lane.taken = lane.pending.size();
        positions.put(partition, lane.pending.peekLast().position());
        involved.put(partition, lane);
      }
    });
    if (batch.isEmpty()) {
      return;
    }
    Future<Void> tx = records.of(batch).compose(out -> sink.publish(out, positions));
    inFlight = tx;
    tx.onComplete(ar -> {
      inFlight = null;
      if (ar.succeeded()) {
        backoffMs = 0;
        relayedEntries += batch.size();
        involved.forEach((partition, lane) -> {
          for (int i = 0; i < lane.taken; i++) {
            lane.pending.poll();
          }
          lane.taken = 0;
          lane.relayed = positions.get(partition);
          if (lane.resync && lanes.get(partition) == lane) {
            lane.resync = false;
            recover(partition, lane, true);
          }
        });
        notifyWaiters();
        pump();
        return;
      }
      long wait = nextBackoff();
      LOG.warn("relaying {} entries failed ({}); asking where the relay stands in {} ms", batch.size(), ar.cause().getMessage(), wait);
      involved.forEach((partition, lane) -> {
        lane.taken = 0;
        lane.ready = false;
      });
      vertx.setTimer(wait, t -> involved.forEach((partition, lane) -> {
        if (lanes.get(partition) == lane) {
          boolean readBacklog = lane.resync;
          lane.resync = false;
          recover(partition, lane, readBacklog);
        }
      }));
    });
  }

  private long nextBackoff() {
    backoffMs = backoffMs == 0 ? 250 : Math.min(backoffMs * 2, MAX_BACKOFF_MS);
    return backoffMs;
  }

  private void notifyWaiters() {
    int pending = pending();
    Iterator<Waiter> it = waiters.iterator();
    while (it.hasNext()) {
      Waiter w = it.next();
      if (pending < w.below()) {
        it.remove();
        w.promise().tryComplete();
      }
    }
  }
}
