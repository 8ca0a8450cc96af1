package io.tributary.common.fused;

import io.tributary.common.input.InputBatch;
import io.tributary.common.input.InputBus;
import io.tributary.common.input.InputRecord;
import io.vertx.core.Future;
import java.util.ArrayList;
import java.util.Collection;
import java.util.List;
import java.util.Map;
import java.util.concurrent.ConcurrentHashMap;
import java.util.function.Supplier;

/**
 * The start of a fused chain, between the source's input adapter and the first stage: hands each
 * shard's part of a batch down the chain as its own {@link Handoff}, so what the stages make of it
 * (state, outputs, dead letters) is stored by the last stage with that shard's position in one step.
 *
 * <p>It remembers, per shard, where the chain has handled the source up to, and hands on only the
 * records after that: when a failed batch makes the adapter read again from the batch's first
 * records, the shards of it that the chain did handle are not handed on twice (their dead letters
 * would be). A batch read before a re-read the last stage asked for is not handed on once that is
 * known; one already on its way is skipped by the last stage, and does not count as handled.
 * Rebalances go to the last stage, which keeps the positions.
 */
public final class ChainHead implements InputBus.Processor, InputBus.Rebalance {

  private final InputBus.Processor first;
  private final Supplier<InputBus.Rebalance> last;
  /** Per shard, the position after the last source record the chain handled. */
  private final Map<Integer, Long> handledUpTo = new ConcurrentHashMap<>();
  /** Per shard, the lowest seek count of a batch read after the last re-read the last stage asked for. */
  private final Map<Integer, Long> freshFrom = new ConcurrentHashMap<>();
  /** Per shard, how many times its ownership moved: a batch handed on before that says nothing of the shard now. */
  private final Map<Integer, Long> generation = new ConcurrentHashMap<>();

  ChainHead(InputBus.Processor first, Supplier<InputBus.Rebalance> last) {
    this.first = first;
    this.last = last;
  }

  /**
   * Completes once every shard's hand-off has settled, so a failure makes the adapter read the batch
   * again only after the shards the chain did handle are known as handled.
   */
  @Override
  public Future<Map<Integer, Long>> process(InputBatch batch) {
    Map<Integer, Long> seeks = new ConcurrentHashMap<>();
    List<Future<Void>> shards = new ArrayList<>();
    for (int shard : batch.shards()) {
      long seekCount = batch.seeks(shard);
      if (seekCount < freshFrom.getOrDefault(shard, 0L)) {
        continue;
      }
      long handled = handledUpTo.getOrDefault(shard, Long.MIN_VALUE);
      List<InputRecord> records = batch.records(shard).stream().filter(r -> r.position() >= handled).toList();
      if (records.isEmpty()) {
        continue;
      }
      long owned = generation.getOrDefault(shard, 0L);
      Handoff handoff = new Handoff(batch.source(), shard, seekCount,
          new InputBatch.Span(records.get(0).position(), records.get(records.size() - 1).position() + 1));
      InputBatch part = new InputBatch(batch.source(), Map.of(shard, records), handoff, Map.of(shard, seekCount));
      shards.add(first.process(part).map(requested -> {
        handoff.answered(requested);
        Long seek = handoff.seek();
        if (owned != generation.getOrDefault(shard, 0L)) {
          return null;
        }
        if (seek != null) {
          // The chain did not handle this batch as read: the shard is read again from where the last stage stands.
          handledUpTo.put(shard, seek);
          freshFrom.merge(shard, seekCount + 1, Math::max);
          seeks.put(shard, seek);
        } else if (seekCount >= freshFrom.getOrDefault(shard, 0L)) {
          // Not when a re-read was asked for meanwhile: the last stage skipped this batch.
          handledUpTo.merge(shard, handoff.span().end(), Math::max);
        }
        return null;
      }));
    }
    return Future.join(shards).map(done -> seeks);
  }

  @Override
  public Map<Integer, Long> assigned(Collection<Integer> shards) {
    forget(shards);
    return last.get().assigned(shards);
  }

  @Override
  public void revoked(Collection<Integer> shards) {
    last.get().revoked(shards);
    forget(shards);
  }

  private void forget(Collection<Integer> shards) {
    for (int shard : shards) {
      generation.merge(shard, 1L, Long::sum);
      handledUpTo.remove(shard);
      freshFrom.remove(shard);
    }
  }
}
