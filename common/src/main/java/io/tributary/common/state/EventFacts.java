package io.tributary.common.state;

import java.util.Map;

/** What the aggregation stage needs of one event: its id, event time and the field values it groups and measures by. */
public record EventFacts(String id, long time, Map<String, String> values, long offset) {
}
