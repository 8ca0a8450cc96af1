package io.tributary.common.pipeline;

/** One declared event field: its type and whether an event must carry it. */
public record FieldSpec(String name, FieldType type, boolean required) {
}
