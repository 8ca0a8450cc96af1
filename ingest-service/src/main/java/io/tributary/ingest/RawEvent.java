package io.tributary.ingest;

/**
 * One event as it arrived: its bytes, or why the body it came in could not be split into events.
 * {@code bytes} doubles as the dead-letter copy and, when validation leaves the event unchanged, as
 * the record value sent on, so a valid event is never encoded twice.
 */
public record RawEvent(byte[] bytes, String parseError) {

  public static RawEvent of(byte[] bytes) {
    return new RawEvent(bytes, null);
  }

  public static RawEvent unparseable(byte[] bytes, String error) {
    return new RawEvent(bytes, error);
  }
}
