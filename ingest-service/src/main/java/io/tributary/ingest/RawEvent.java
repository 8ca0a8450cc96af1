package io.tributary.ingest;

import java.util.Map;

/**
 * One event as it arrived: its bytes, and either the parsed JSON object or why it could not be parsed.
 * {@code bytes} doubles as the dead-letter copy and, when validation leaves the event unchanged,
 * as the record value sent on, so a valid event is never encoded twice.
 */
public record RawEvent(byte[] bytes, Map<String, Object> parsed, String parseError) {

  public static RawEvent parsed(byte[] bytes, Map<String, Object> event) {
    return new RawEvent(bytes, event, null);
  }

  public static RawEvent unparseable(byte[] bytes, String error) {
    return new RawEvent(bytes, null, error);
  }
}
