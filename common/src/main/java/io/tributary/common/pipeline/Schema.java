package io.tributary.common.pipeline;

import java.util.Map;

/**
 * The shape of an event. {@code idField} names the unique event id (the de-duplication key),
 * {@code keyField} the entity key (Kafka record key), {@code timeField} the event time, or null when
 * events take their arrival time. {@code fields} keeps the declaration order of the file.
 */
public record Schema(String idField, String keyField, String timeField, Map<String, FieldSpec> fields) {

  public Schema {
    fields = java.util.Collections.unmodifiableMap(new java.util.LinkedHashMap<>(fields));
  }

  public FieldSpec field(String name) {
    return fields.get(name);
  }
}
