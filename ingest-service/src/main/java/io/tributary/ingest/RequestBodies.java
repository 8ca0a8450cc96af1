package io.tributary.ingest;

import io.vertx.core.buffer.Buffer;
import io.vertx.core.json.DecodeException;
import io.vertx.core.json.Json;
import java.util.ArrayList;
import java.util.List;

/** Splits a request or message body into events: one JSON object, a JSON array of objects, or NDJSON. */
public final class RequestBodies {

  private RequestBodies() {
  }

  /** A body that is not JSON at all. */
  public static final class MalformedBody extends RuntimeException {
    public MalformedBody(String message) {
      super(message);
    }
  }

  /** {@code application/json}: an object is one event, an array is many; anything else is malformed. */
  public static List<RawEvent> json(Buffer body) {
    requireContent(body);
    int first = firstNonBlank(body);
    if (first == '{') {
      // One event: validated as it is, in one streaming pass.
      return List.of(RawEvent.of(body.getBytes()));
    }
    if (first == '[') {
      return arrayElements(body.getBytes());
    }
    try {
      Json.decodeValue(body);
    } catch (DecodeException e) {
      throw new MalformedBody("body is not valid JSON: " + firstLine(e.getMessage()));
    }
    throw new MalformedBody("body must be a JSON object or an array of objects");
  }

  /**
   * The elements of a JSON array, each as its own bytes, exactly as NDJSON lines are: an element is
   * validated on its own, so one with malformed UTF-8 or broken JSON inside is refused with its
   * reason while the others go on. Decoding the array as a whole would instead hand on what the JSON
   * parser silently decodes (overlong forms, encoded surrogates), or refuse every event for one bad
   * byte. Only the array's own punctuation is read here; it is ASCII, and no byte of a multi-byte
   * UTF-8 sequence is ASCII, so no decoding is needed to find it. Brackets are only counted: an
   * element whose brackets do not match fails its own validation, and a count that does not return
   * to zero refuses the body.
   */
  static List<RawEvent> arrayElements(byte[] bytes) {
    int i = skipBlank(bytes, 0);
    List<RawEvent> events = new ArrayList<>();
    int depth = 0;
    boolean inString = false;
    int start = i + 1;
    int end = -1;
    for (i = i + 1; i < bytes.length && end < 0; i++) {
      byte b = bytes[i];
      if (inString) {
        if (b == '\\') {
          i++;
        } else if (b == '"') {
          inString = false;
        }
        continue;
      }
      switch (b) {
        case '"' -> inString = true;
        case '{', '[' -> depth++;
        case '}' -> depth--;
        case ']' -> {
          if (depth == 0) {
            end = i;
            addElement(bytes, start, i, events, true);
          } else {
            depth--;
          }
        }
        case ',' -> {
          if (depth == 0) {
            addElement(bytes, start, i, events, false);
            start = i + 1;
          }
        }
        default -> {
        }
      }
    }
    if (end < 0) {
      throw new MalformedBody("body is not valid JSON: the array is not closed (a ']' is missing, or a string is not terminated)");
    }
    if (skipBlank(bytes, end + 1) < bytes.length) {
      throw new MalformedBody("body is not valid JSON: content after the closing ']' of the array, at byte " + skipBlank(bytes, end + 1));
    }
    return events;
  }

  private static void addElement(byte[] bytes, int start, int end, List<RawEvent> events, boolean last) {
    int from = skipBlank(bytes, start);
    int to = end;
    while (to > from && isBlankByte(bytes[to - 1])) {
      to--;
    }
    if (from == to) {
      if (last && events.isEmpty()) {
        return; // []
      }
      throw new MalformedBody("body is not valid JSON: an empty element in the array at byte " + from
          + " (two commas in a row, or a comma before ']')");
    }
    byte[] element = java.util.Arrays.copyOfRange(bytes, from, to);
    events.add(element[0] == '{' ? RawEvent.of(element) : RawEvent.unparseable(element, "not a JSON object"));
  }

  private static int skipBlank(byte[] bytes, int from) {
    int i = from;
    while (i < bytes.length && isBlankByte(bytes[i])) {
      i++;
    }
    return i;
  }

  /** {@code application/x-ndjson}: one JSON object per line; blank lines are skipped. */
  public static List<RawEvent> ndjson(Buffer body) {
    requireContent(body);
    byte[] bytes = body.getBytes();
    List<RawEvent> events = new ArrayList<>();
    int start = 0;
    for (int i = 0; i <= bytes.length; i++) {
      if (i == bytes.length || bytes[i] == '\n') {
        int end = i;
        if (end > start && bytes[end - 1] == '\r') {
          end--;
        }
        if (!isBlank(bytes, start, end)) {
          events.add(single(java.util.Arrays.copyOfRange(bytes, start, end)));
        }
        start = i + 1;
      }
    }
    return events;
  }

  /** One message that should hold one JSON object (a Kafka record value, a RabbitMQ message body); the validator reads it. */
  public static RawEvent single(byte[] bytes) {
    return RawEvent.of(bytes);
  }

  private static int firstNonBlank(Buffer body) {
    for (int i = 0; i < body.length(); i++) {
      byte b = body.getByte(i);
      if (!isBlankByte(b)) {
        return b;
      }
    }
    return -1;
  }

  /** An absent or blank body is refused with a clear message (the router hands over null for an empty body). */
  private static void requireContent(Buffer body) {
    if (body == null || isBlank(body.getBytes(), 0, body.length())) {
      throw new MalformedBody("the body is empty: send one JSON event, a JSON array of events, or NDJSON (one event per line)");
    }
  }

  private static boolean isBlank(byte[] bytes, int start, int end) {
    for (int i = start; i < end; i++) {
      if (!isBlankByte(bytes[i])) {
        return false;
      }
    }
    return true;
  }

  private static boolean isBlankByte(byte b) {
    return b == ' ' || b == '\t' || b == '\n' || b == '\r';
  }

  private static String firstLine(String message) {
    if (message == null) {
      return "unreadable";
    }
    int nl = message.indexOf('\n');
    return nl < 0 ? message : message.substring(0, nl);
  }
}
