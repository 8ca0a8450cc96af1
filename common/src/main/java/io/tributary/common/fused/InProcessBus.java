package io.tributary.common.fused;

import io.tributary.common.bus.BusMessage;
import io.tributary.common.input.InputBatch;
import io.tributary.common.input.InputBus;
import io.tributary.common.input.InputCommit;
import io.tributary.common.input.InputRecord;
import io.tributary.common.pipeline.BusRef;
import io.vertx.core.Context;
import io.vertx.core.Future;
import io.vertx.core.Promise;
import io.vertx.core.Vertx;
import io.vertx.core.json.JsonArray;
import java.util.ArrayList;
import java.util.Collection;
import java.util.List;
import java.util.Map;

/**
 * A bus between two stages of a fused chain, in memory: what the upstream stage publishes to it for
 * one {@link Handoff} is the downstream stage's next input batch, processed at once; the publish
 * completes when the downstream stage (and so the rest of the chain) has handled it. Messages for
 * other buses (dead letters) are carried along the chain instead of published, and so are copies of
 * this bus's messages when the pipeline names it an output ({@link Fusion#writtenToo}). Ownership and committed
 * positions are the chain head's: this bus has no group of its own.
 *
 * <p>The batch spans the source batch ({@link InputBatch#span}), so the last stage stores the source's
 * position. Its records' positions are not source offsets (a stage may drop records or make several
 * of one): they stay within the span, in order, and a stage must not compare them with source
 * positions; a hand-off that starts behind the stored position is read again from there instead.
 */
public final class InProcessBus implements InputBus {

  private final BusRef bus;
  private final Fusion fusion;
  private final boolean writtenToo;
  private volatile Processor downstream;
  private volatile Context downstreamContext;

  InProcessBus(BusRef bus, Fusion fusion, boolean writtenToo) {
    this.bus = bus;
    this.fusion = fusion;
    this.writtenToo = writtenToo;
  }

  void readBy(Context context, Processor processor) {
    if (downstream != null) {
      throw new IllegalStateException("the in-process bus " + bus + " has a reader already");
    }
    downstreamContext = context;
    downstream = processor;
  }

  /** Hands one stage's outputs of a hand-off to the next stage; completes once that stage and those after it handled them. */
  public Future<Void> publish(List<BusMessage> messages, Handoff handoff) {
    Processor next = downstream;
    if (next == null) {
      return Future.failedFuture(new IllegalStateException("no stage reads the in-process bus " + bus + " yet"));
    }
    List<InputRecord> records = new ArrayList<>(messages.size());
    InputBatch.Span span = handoff.span();
    long position = span.start();
    for (BusMessage message : messages) {
      if (message.bus().equals(bus)) {
        records.add(new InputRecord(message.key(), message.value(), message.headers(), message.timestamp(), handoff.shard(),
            Math.min(position++, span.end() - 1)));
        if (writtenToo) {
          handoff.carry(message);
        }
      } else {
        handoff.carry(message);
      }
    }
    int shard = handoff.shard();
    InputBatch batch = new InputBatch(handoff.source(), Map.of(shard, records), handoff, Map.of(shard, handoff.seekCount()),
        Map.of(shard, span), Map.of(shard, handoff.carried()));
    return onDownstreamContext(next, batch).map(seeks -> {
      handoff.answered(seeks);
      return null;
    });
  }

  /**
   * Each stage's processor keeps its state on its own verticle's context (its rebalance, timers and
   * HTTP handlers run there too): the batch is processed there, and the answer comes back on the
   * caller's context.
   */
  private Future<Map<Integer, Long>> onDownstreamContext(Processor next, InputBatch batch) {
    Context target = downstreamContext;
    Context caller = Vertx.currentContext();
    if (target == null || target == caller) {
      return next.process(batch);
    }
    Promise<Map<Integer, Long>> processed = Promise.promise();
    target.runOnContext(v -> next.process(batch).onComplete(processed));
    return caller == null ? processed.future() : onCallersContext(processed.future(), caller);
  }

  @Override
  public void start() {
  }

  @Override
  public Future<Void> stop() {
    return Future.succeededFuture();
  }

  @Override
  public JsonArray assignedShards() {
    return fusion.head().assignedShards();
  }

  @Override
  public Future<InputCommit> commitOf(Map<Integer, Long> positions) {
    return onCallersContext(fusion.head().commitOf(positions));
  }

  /** The head's answer comes on the head stage's context; the caller (aggregate's relay) keeps its state on its own. */
  @Override
  public Future<Map<Integer, Long>> committed(Collection<Integer> shards) {
    return onCallersContext(fusion.head().committed(shards));
  }

  private static <T> Future<T> onCallersContext(Future<T> answer) {
    Context caller = Vertx.currentContext();
    return caller == null ? answer : onCallersContext(answer, caller);
  }

  private static <T> Future<T> onCallersContext(Future<T> answer, Context caller) {
    Promise<T> promise = Promise.promise();
    answer.onComplete(result -> caller.runOnContext(v -> promise.handle(result)));
    return promise.future();
  }
}
