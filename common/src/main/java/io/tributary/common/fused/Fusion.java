package io.tributary.common.fused;

import io.tributary.common.input.InputBus;
import io.tributary.common.pipeline.BusRef;
import io.tributary.common.pipeline.Pipeline;
import io.vertx.core.Context;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;

/**
 * Which buses of a pipeline one fused process keeps in memory, and where its chain reads: the one
 * place that decides the fused shape. The chain's head is the log that makes an event durable, read
 * once: the pipeline's Kafka source when it has one (ingest then runs in the chain, and HTTP intake
 * validates at the door and appends to that topic), else the ingested bus that HTTP and RabbitMQ
 * intake write (the chain is then enrich and aggregate). Every bus after the head up to aggregate is
 * an {@link InProcessBus}. In the three-service mode ({@link #NONE}) no bus is in memory.
 */
public final class Fusion {

  /** Three services: every bus is a bus. */
  public static final Fusion NONE = new Fusion(null, List.of(), List.of());

  private final BusRef source;
  private final Map<BusRef, InProcessBus> hops = new LinkedHashMap<>();
  private final List<BusRef> writtenToo;
  private volatile InputBus head;
  private volatile InputBus.Rebalance last;

  private Fusion(BusRef source, List<BusRef> inMemory, List<BusRef> outputs) {
    this.source = source;
    this.writtenToo = inMemory.stream().filter(outputs::contains).toList();
    inMemory.forEach(bus -> hops.put(bus, new InProcessBus(bus, this, writtenToo.contains(bus))));
  }

  /** The fused shape of {@code pipeline}; refused with the reason when it has none. */
  public static Fusion of(Pipeline pipeline) {
    if (pipeline.aggregations().isEmpty()) {
      throw new IllegalArgumentException("a fused chain ends in the aggregate stage; pipeline '" + pipeline.name()
          + "' declares no aggregations: run it as three services");
    }
    List<BusRef> kafkaSources = pipeline.sources().stream().filter(BusRef::isKafka).toList();
    if (kafkaSources.isEmpty()) {
      return new Fusion(pipeline.buses().ingested(), List.of(pipeline.buses().enriched()), List.copyOf(pipeline.buses().outputs()));
    }
    if (pipeline.sources().size() > 1) {
      throw new IllegalArgumentException("a fused chain reads one source log, and pipeline '" + pipeline.name() + "' names "
          + pipeline.sources() + ": keep one Kafka source, or run it as three services");
    }
    return new Fusion(kafkaSources.get(0), List.of(pipeline.buses().ingested(), pipeline.buses().enriched()),
        List.copyOf(pipeline.buses().outputs()));
  }

  public boolean isFused() {
    return source != null;
  }

  /** The bus the chain reads (a source topic, or the ingested bus); null for three services. */
  public BusRef source() {
    return source;
  }

  /**
   * The buses kept in memory that the pipeline names as outputs: what a stage hands on to them is
   * carried along the chain as well, and the last stage writes it with its own outputs, in the same
   * step that stores the source's position, so it is written exactly once, as three services write it.
   */
  public List<BusRef> writtenToo() {
    return writtenToo;
  }

  /** Whether the bus is kept in memory between two stages of this process. */
  public boolean inMemory(BusRef bus) {
    return hops.containsKey(bus);
  }

  /** The stage that starts the chain: ingest when it reads the source, else enrich. */
  public String headStage() {
    return hops.size() == 2 ? "ingest" : "enrich";
  }

  /** The bus whose partitions are the shards of {@code bus}: the chain's source for a bus kept in memory. */
  public BusRef shardsOf(BusRef bus) {
    return inMemory(bus) ? source : bus;
  }

  /**
   * The in-memory bus a stage reads: the downstream stage's processor is registered, to run on its
   * stage's {@code context}, and the last stage's rebalance (the one that keeps the positions) serves
   * the chain's head.
   */
  public InputBus readBy(BusRef bus, Context context, InputBus.Processor processor, InputBus.Rebalance rebalance,
      InputBus.Commit commit) {
    InProcessBus hop = hops.get(bus);
    hop.readBy(context, processor);
    if (commit == InputBus.Commit.BY_STAGE) {
      last = rebalance;
    }
    return hop;
  }

  /** The processor the head's input hands its batches to: the first stage's, one shard at a time. */
  public ChainHead head(InputBus.Processor first) {
    return new ChainHead(first, () -> {
      InputBus.Rebalance rebalance = last;
      if (rebalance == null) {
        throw new IllegalStateException("the fused chain's last stage has not started");
      }
      return rebalance;
    });
  }

  /** Registers the adapter that reads the chain's source; the in-memory buses answer for ownership and positions with it. */
  public void headReads(InputBus input) {
    head = input;
  }

  InputBus head() {
    InputBus input = head;
    if (input == null) {
      throw new IllegalStateException("the fused chain's source is not read yet");
    }
    return input;
  }

  /** The in-memory bus a stage publishes to, among its outputs; null when it has none. */
  public InProcessBus output(List<BusRef> outputs) {
    return outputs.stream().filter(hops::containsKey).map(hops::get).findFirst().orElse(null);
  }
}
