package io.tributary.common.pipeline;

import java.util.Set;

/**
 * The buses between the stages and after them. {@code outputs} holds those of the buses between
 * stages ({@code ingested}, {@code enriched}) that consumers outside the pipeline read: three services
 * write every bus anyway, and a fused process, which keeps them in memory, writes these too.
 */
public record Buses(BusRef ingested, BusRef enriched, BusRef updates, BusRef deadLetter, Set<BusRef> outputs) {

  public Buses {
    outputs = Set.copyOf(outputs);
  }

  /** Whether {@code bus} is read outside the pipeline, so it is written even where the stages could pass it in memory. */
  public boolean isOutput(BusRef bus) {
    return outputs.contains(bus) || bus.equals(updates) || bus.equals(deadLetter);
  }
}
