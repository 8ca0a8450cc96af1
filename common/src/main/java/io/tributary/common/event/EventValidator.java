package io.tributary.common.event;

import com.fasterxml.jackson.core.JsonFactory;
import com.fasterxml.jackson.core.JsonParser;
import com.fasterxml.jackson.core.JsonToken;
import com.fasterxml.jackson.core.StreamReadFeature;
import io.tributary.common.pipeline.FieldSpec;
import io.tributary.common.pipeline.FieldType;
import io.tributary.common.pipeline.Schema;
import io.vertx.core.buffer.Buffer;
import io.vertx.core.json.JsonObject;
import java.io.IOException;
import java.time.DateTimeException;
import java.time.Instant;
import java.time.OffsetDateTime;
import java.time.format.DateTimeParseException;
import java.util.HashMap;
import java.util.Map;

/**
 * Checks one event, as the bytes it arrived in, against the pipeline's schema in one streaming pass:
 * no tree or map of the event is built. A valid event leaves with its id, key and event time resolved
 * and the bytes to send on: the original ones, unless its time field had to be written as epoch
 * milliseconds (an ISO-8601 time, or the arrival time where the schema declares the time field
 * {@code required: false}), so every later stage reads one representation. An event time further
 * ahead of the wall clock than the schema's {@code maxAhead} is refused as from the future: one such
 * event must not move stream time for all the others. Where several fields are wrong, the first in
 * the schema's declaration order is reported.
 */
public final class EventValidator {

  static final int MAX_ID_LENGTH = 512;
  /** The largest magnitude of a number or integer field (see {@link #inRange}). */
  public static final double MAX_MAGNITUDE = 1e15;
  /** How far from 1970 a time may lie, either way (2^53 ms, some 285,000 years): window arithmetic on it stays far from overflowing. */
  public static final long TIME_BOUND_MILLIS = 1L << 53;
  private static final JsonFactory FACTORY = JsonFactory.builder().enable(StreamReadFeature.STRICT_DUPLICATE_DETECTION).build();

  private final Schema schema;
  private final FieldSpec[] fields;
  private final Map<String, Integer> index = new HashMap<>();
  private final int idIndex;
  private final int keyIndex;
  private final int timeIndex;
  private final long maxAheadMillis;

  public EventValidator(Schema schema) {
    this.schema = schema;
    this.fields = schema.fields().values().toArray(FieldSpec[]::new);
    for (int i = 0; i < fields.length; i++) {
      index.put(fields[i].name(), i);
    }
    this.idIndex = index.getOrDefault(schema.idField(), -1);
    this.keyIndex = index.getOrDefault(schema.keyField(), -1);
    this.timeIndex = schema.timeField() == null ? -1 : index.get(schema.timeField());
    this.maxAheadMillis = schema.maxAhead().toMillis();
  }

  /** A valid event's identity, or the reason it is not valid. */
  public sealed interface Result permits Valid, Invalid {
  }

  /** {@code value} is what to send on: the original bytes, or the event rewritten with its time in epoch millis. */
  public record Valid(String id, String key, long timeMillis, byte[] value) implements Result {
  }

  /** Why an event is refused: {@code FUTURE} for an event time past the wall clock's bound, {@code INVALID} for the rest. */
  public enum Refusal { INVALID, FUTURE }

  public record Invalid(String error, Refusal refusal) implements Result {
    public Invalid(String error) {
      this(error, Refusal.INVALID);
    }
  }

  /** The reason given to an event whose time lies too far ahead of the wall clock; shared by every stage that checks it. */
  public static String futureError(String timeField, long time, long nowMillis, long maxAheadMillis) {
    return "event time in the future: " + (timeField == null ? "time" : "'" + timeField + "'") + " " + time + " ("
        + formatInstant(time) + ") is " + (time - nowMillis) + " ms ahead of the wall clock " + nowMillis
        + ", more than the allowed " + maxAheadMillis + " ms (schema.time.maxAhead)";
  }

  private static String formatInstant(long millis) {
    try {
      return Instant.ofEpochMilli(millis).toString();
    } catch (DateTimeException e) {
      return "out of range";
    }
  }

  /** What one pass over the event found: per declared field, whether it was there (or null), its first error, and the texts needed. */
  private final class Scan {
    final boolean[] present = new boolean[fields.length];
    final boolean[] nulled = new boolean[fields.length];
    final String[] errors = new String[fields.length];
    String id;
    String key;
    Long time;
    boolean timeRewrite;

    void field(int i, JsonToken token, JsonParser parser) throws IOException {
      if (token == JsonToken.VALUE_NULL) {
        nulled[i] = true;
        return;
      }
      present[i] = true;
      FieldSpec field = fields[i];
      if (!matches(field.type(), token, parser)) {
        errors[i] = field.type() == FieldType.TIMESTAMP ? timeError(field.name(), describe(token, parser))
            : token.isNumeric() && (field.type() == FieldType.NUMBER || field.type() == FieldType.INTEGER) && !inRange(parser.getDoubleValue())
            ? "field '" + field.name() + "' must be " + article(field.type()) + " from -1e15 to 1e15, got " + describe(token, parser)
            : "field '" + field.name() + "' must be " + article(field.type()) + ", got " + describe(token, parser);
      }
      if (i == idIndex) {
        id = identity(token, parser);
      }
      if (i == keyIndex) {
        key = identity(token, parser);
      }
      if (i == timeIndex && errors[i] == null) {
        time = timeOf(token, parser);
        timeRewrite = token != JsonToken.VALUE_NUMBER_INT;
      }
    }
  }

  /** Validates {@code json}, one event as it arrived. */
  public Result validate(byte[] json, long arrivalMillis) {
    int malformed = Utf8.firstMalformed(json);
    if (malformed >= 0) {
      return new Invalid("not valid UTF-8: a malformed byte sequence at byte " + malformed
          + " (overlong forms, surrogates and stray bytes are refused)");
    }
    Scan scan = new Scan();
    try (JsonParser parser = FACTORY.createParser(json)) {
      if (parser.nextToken() != JsonToken.START_OBJECT) {
        return new Invalid("not a JSON object");
      }
      JsonToken token;
      while ((token = parser.nextToken()) == JsonToken.FIELD_NAME) {
        Integer i = index.get(parser.currentName());
        JsonToken value = parser.nextToken();
        if (i != null) {
          scan.field(i, value, parser);
        }
        if (value == JsonToken.START_OBJECT || value == JsonToken.START_ARRAY) {
          parser.skipChildren();
        }
      }
      if (token != JsonToken.END_OBJECT) {
        return new Invalid("not a complete JSON object");
      }
      if (parser.nextToken() != null) {
        return new Invalid("not valid JSON: content after the object");
      }
    } catch (IOException e) {
      return new Invalid("not valid JSON: " + firstLine(e.getMessage()));
    }
    for (int i = 0; i < fields.length; i++) {
      if (scan.errors[i] != null) {
        return new Invalid(scan.errors[i]);
      }
      if (!scan.present[i] && fields[i].required()) {
        return new Invalid(scan.nulled[i] ? "field '" + fields[i].name() + "' is null but required"
            : "missing required field '" + fields[i].name() + "'");
      }
    }
    if (scan.id == null) {
      return new Invalid("field '" + schema.idField() + "' (the event id) must be a non-empty string or number of at most "
          + MAX_ID_LENGTH + " characters");
    }
    if (scan.key == null) {
      return new Invalid("field '" + schema.keyField() + "' (the entity key) must be a non-empty string or number of at most "
          + MAX_ID_LENGTH + " characters");
    }
    if (timeIndex < 0) {
      return new Valid(scan.id, scan.key, arrivalMillis, json);
    }
    if (scan.time == null) {
      // Only reached when the schema declares the time field required: false (checked above otherwise).
      byte[] stamped = scan.nulled[timeIndex] ? withTime(json, arrivalMillis)
          : EventScanner.append(json, quoted(schema.timeField()) + ":" + arrivalMillis);
      return new Valid(scan.id, scan.key, arrivalMillis, stamped);
    }
    long time = scan.time;
    if (time < -TIME_BOUND_MILLIS) {
      return new Invalid("field '" + schema.timeField() + "' is " + time + " ms, before the earliest event time accepted ("
          + -TIME_BOUND_MILLIS + " ms, some 285,000 years before 1970)");
    }
    if (time > arrivalMillis && time - arrivalMillis > maxAheadMillis) {
      return new Invalid(futureError(schema.timeField(), time, arrivalMillis, maxAheadMillis), Refusal.FUTURE);
    }
    return new Valid(scan.id, scan.key, time, scan.timeRewrite ? withTime(json, time) : json);
  }

  /** The event re-encoded with its time field as epoch millis: the rare path, for ISO-8601 times. */
  private byte[] withTime(byte[] json, long millis) {
    JsonObject event = new JsonObject(Buffer.buffer(json));
    event.put(schema.timeField(), millis);
    return event.toBuffer().getBytes();
  }

  private static String quoted(String name) {
    StringBuilder out = new StringBuilder(name.length() + 2);
    JsonText.appendString(out, name);
    return out.toString();
  }

  private static boolean matches(FieldType type, JsonToken token, JsonParser parser) throws IOException {
    return switch (type) {
      case STRING -> token == JsonToken.VALUE_STRING;
      case NUMBER -> token.isNumeric() && inRange(parser.getDoubleValue());
      case INTEGER -> token.isNumeric() && inRange(parser.getDoubleValue()) && integral(parser.getDoubleValue());
      case BOOLEAN -> token == JsonToken.VALUE_TRUE || token == JsonToken.VALUE_FALSE;
      case TIMESTAMP -> timeOf(token, parser) != null;
      case OBJECT -> token == JsonToken.START_OBJECT;
      case ARRAY -> token == JsonToken.START_ARRAY;
    };
  }

  /**
   * Numbers are IEEE-754 doubles of at most {@value #MAX_MAGNITUDE} in magnitude: a window's sum of
   * them stays finite for any number of events, so no stored value can become infinite.
   */
  private static boolean inRange(double d) {
    return Math.abs(d) <= MAX_MAGNITUDE;
  }

  private static boolean integral(double d) {
    return Double.isFinite(d) && d == Math.rint(d);
  }

  /** Epoch millis from a whole number or an ISO-8601 text; null when neither. */
  private static Long timeOf(JsonToken token, JsonParser parser) throws IOException {
    if (token == JsonToken.VALUE_NUMBER_INT) {
      JsonParser.NumberType type = parser.getNumberType();
      return type == JsonParser.NumberType.INT || type == JsonParser.NumberType.LONG ? parser.getLongValue() : null;
    }
    if (token == JsonToken.VALUE_NUMBER_FLOAT) {
      double d = parser.getDoubleValue();
      return integral(d) && Math.abs(d) < 9.2e18 ? (long) d : null;
    }
    if (token == JsonToken.VALUE_STRING) {
      return timeMillis(parser.getText());
    }
    return null;
  }

  private static String timeError(String name, String described) {
    return "field '" + name + "' must be epoch milliseconds or an ISO-8601 timestamp, got " + described;
  }

  /** Epoch millis from text: a whole number, or an ISO-8601 instant / offset date-time; null when neither. */
  public static Long parseTime(String text) {
    if (text == null || text.isEmpty()) {
      return null;
    }
    char first = text.charAt(0);
    if (first == '-' || (first >= '0' && first <= '9')) {
      try {
        return Long.parseLong(text);
      } catch (NumberFormatException notWhole) {
        // an ISO-8601 date also starts with a digit
      }
    }
    return timeMillis(text);
  }

  /** Epoch millis from an ISO-8601 instant or offset date-time; null when neither. */
  static Long timeMillis(String s) {
    if (s.isEmpty() || s.length() > 64) {
      return null;
    }
    try {
      return Instant.parse(s).toEpochMilli();
    } catch (DateTimeParseException notInstant) {
      try {
        return OffsetDateTime.parse(s).toInstant().toEpochMilli();
      } catch (DateTimeParseException notOffset) {
        return null;
      }
    }
  }

  /** The text of an id or key: a non-empty string or a whole number of at most 512 characters; null otherwise. */
  private static String identity(JsonToken token, JsonParser parser) throws IOException {
    String text = token == JsonToken.VALUE_STRING ? parser.getText()
        : token == JsonToken.VALUE_NUMBER_INT && parser.getNumberType() != JsonParser.NumberType.BIG_INTEGER ? parser.getText()
        : null;
    return text == null || text.isEmpty() || text.length() > MAX_ID_LENGTH ? null : text;
  }

  private static String article(FieldType type) {
    return switch (type) {
      case INTEGER, OBJECT, ARRAY -> "an " + type.yamlName();
      default -> "a " + type.yamlName();
    };
  }

  private static String describe(JsonToken token, JsonParser parser) throws IOException {
    return switch (token) {
      case VALUE_STRING -> {
        String s = parser.getText();
        yield "string \"" + (s.length() > 40 ? s.substring(0, 40) + "..." : s) + "\"";
      }
      case START_OBJECT -> "an object";
      case START_ARRAY -> "an array";
      case VALUE_TRUE, VALUE_FALSE -> "boolean " + parser.getText();
      default -> {
        String n = parser.getText();
        yield "number " + (n.length() > 40 ? n.substring(0, 40) + "..." : n);
      }
    };
  }

  private static String firstLine(String message) {
    if (message == null) {
      return "unreadable";
    }
    int nl = message.indexOf('\n');
    return nl < 0 ? message : message.substring(0, nl);
  }
}
