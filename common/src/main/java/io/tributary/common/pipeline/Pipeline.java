package io.tributary.common.pipeline;

import java.util.List;
import java.util.Optional;

/**
 * A parsed pipeline file: the schema every event must satisfy, the look-ups that enrich it, the
 * histories that keep its events and add their features to it, the aggregations kept over it and the buses that chain the stages. {@code store} holds the
 * aggregation state and is the look-ups' store unless one names its own. Immutable and free of I/O.
 */
public record Pipeline(
    String name,
    Store store,
    Schema schema,
    List<Lookup> lookups,
    List<History> histories,
    List<Aggregation> aggregations,
    Buses buses,
    List<BusRef> sources) {

  public Pipeline {
    lookups = List.copyOf(lookups);
    histories = List.copyOf(histories);
    aggregations = List.copyOf(aggregations);
    sources = List.copyOf(sources);
  }

  public Optional<Lookup> lookup(String lookupName) {
    return lookups.stream().filter(l -> l.name().equals(lookupName)).findFirst();
  }

  public Optional<Aggregation> aggregation(String aggregationName) {
    return aggregations.stream().filter(a -> a.name().equals(aggregationName)).findFirst();
  }

  /** The Kafka consumer group of a stage: one group per pipeline and stage. */
  public String consumerGroup(String stage) {
    return "tributary." + name + "." + stage;
  }
}
