package io.tributary.common.pipeline;

import java.time.Duration;
import java.util.Collections;
import java.util.LinkedHashMap;
import java.util.Map;

/**
 * The shape of an event. {@code idField} names the unique event id (the de-duplication key),
 * {@code keyField} the entity key (Kafka record key), {@code timeField} the event time, or null when
 * every event takes its arrival time. The time field is required like any other field unless it is
 * declared {@code required: false}; only then does an event without it take its arrival time.
 * {@code maxAhead} bounds how far ahead of the wall clock an event time may lie before the event is
 * refused as from the future. {@code fields} keeps the declaration order of the file.
 */
public record Schema(String idField, String keyField, String timeField, Duration maxAhead, Map<String, FieldSpec> fields) {

  /** How far ahead of the wall clock an event time may be, unless the pipeline says otherwise (Kafka's own bound, KIP-937). */
  public static final Duration DEFAULT_MAX_AHEAD = Duration.ofHours(1);

  public Schema {
    fields = Collections.unmodifiableMap(new LinkedHashMap<>(fields));
  }

  public FieldSpec field(String name) {
    return fields.get(name);
  }

  /** Whether an event without its time field takes its arrival time (the field is declared {@code required: false}). */
  public boolean arrivalTimeWhenMissing() {
    return timeField != null && !fields.get(timeField).required();
  }
}
