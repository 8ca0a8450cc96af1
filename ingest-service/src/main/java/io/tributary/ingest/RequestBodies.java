package io.tributary.ingest;

import io.vertx.core.buffer.Buffer;
import io.vertx.core.json.DecodeException;
import io.vertx.core.json.Json;
import io.vertx.core.json.JsonArray;
import io.vertx.core.json.JsonObject;
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
    if (firstNonBlank(body) == '{') {
      // One event: validated as it is, in one streaming pass.
      return List.of(RawEvent.of(body.getBytes()));
    }
    Object root;
    try {
      root = Json.decodeValue(body);
    } catch (DecodeException e) {
      throw new MalformedBody("body is not valid JSON: " + firstLine(e.getMessage()));
    }

    if (root instanceof JsonArray array) {
      List<RawEvent> events = new ArrayList<>(array.size());
      for (Object item : array) {
        if (item instanceof JsonObject object) {
          events.add(RawEvent.of(object.toBuffer().getBytes()));
        } else {
          events.add(RawEvent.unparseable(Json.encodeToBuffer(item).getBytes(), "not a JSON object"));
        }
      }
      return events;
    }
    throw new MalformedBody("body must be a JSON object or an array of objects");
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
      if (b != ' ' && b != '\t' && b != '\n' && b != '\r') {
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
      if (bytes[i] != ' ' && bytes[i] != '\t' && bytes[i] != '\n' && bytes[i] != '\r') {
        return false;
      }
    }
    return true;
  }

  private static String firstLine(String message) {
    if (message == null) {
      return "unreadable";
    }
    int nl = message.indexOf('\n');
    return nl < 0 ? message : message.substring(0, nl);
  }
}
