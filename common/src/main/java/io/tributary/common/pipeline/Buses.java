package io.tributary.common.pipeline;

/** The buses between the stages. */
public record Buses(BusRef ingested, BusRef enriched, BusRef updates, BusRef deadLetter) {
}
