package io.tributary.enrich;

import java.util.List;

/**
 * One event as a history stores it: its id, its key (the {@code by} values), its event time, its
 * position in its shard, and the values of the history's kept fields (null where absent), in the
 * order of {@link HistoryPlan#fields()}.
 */
public record HistoryEvent(String id, String key, long time, long position, List<String> values) {
}
