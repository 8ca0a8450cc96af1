package io.tributary.common.event;

import io.tributary.common.pipeline.FieldSpec;
import io.tributary.common.pipeline.FieldType;
import io.tributary.common.pipeline.Schema;
import java.time.Instant;
import java.time.OffsetDateTime;
import java.time.format.DateTimeParseException;
import java.util.List;
import java.util.Map;

/**
 * Checks one event against the pipeline's schema. A valid event leaves with its id, key and event
 * time resolved, and its time field written as epoch milliseconds (the arrival time only when the
 * schema declares the time field {@code required: false}), so every later stage reads one
 * representation. An event time further ahead of the wall clock than the schema's {@code maxAhead}
 * is refused as from the future: one such event must not move stream time for all the others.
 */
public final class EventValidator {

  static final int MAX_ID_LENGTH = 512;
  private final Schema schema;
  private final FieldSpec[] fields;
  private final long maxAheadMillis;

  public EventValidator(Schema schema) {
    this.schema = schema;
    this.fields = schema.fields().values().toArray(FieldSpec[]::new);
    this.maxAheadMillis = schema.maxAhead().toMillis();
  }

  /** A valid event's identity, or the reason it is not valid. */
  public sealed interface Result permits Valid, Invalid {
  }

  /** {@code rewritten} tells whether validation changed the event (its time field), so its original bytes are stale. */
  public record Valid(String id, String key, long timeMillis, boolean rewritten) implements Result {
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
    } catch (java.time.DateTimeException e) {
      return "out of range";
    }
  }

  /** Validates and normalises {@code event} in place. */
  public Result validate(Map<String, Object> event, long arrivalMillis) {
    for (FieldSpec field : fields) {
      Object value = event.get(field.name());
      if (value == null) {
        if (field.required()) {
          return new Invalid(event.containsKey(field.name())
              ? "field '" + field.name() + "' is null but required"
              : "missing required field '" + field.name() + "'");
        }
        continue;
      }
      String error = typeError(field, value);
      if (error != null) {
        return new Invalid(error);
      }
    }
    String id = identity(event.get(schema.idField()));
    if (id == null) {
      return new Invalid("field '" + schema.idField() + "' (the event id) must be a non-empty string or number of at most "
          + MAX_ID_LENGTH + " characters");
    }
    String key = identity(event.get(schema.keyField()));
    if (key == null) {
      return new Invalid("field '" + schema.keyField() + "' (the entity key) must be a non-empty string or number of at most "
          + MAX_ID_LENGTH + " characters");
    }
    long time = arrivalMillis;
    boolean rewritten = false;
    if (schema.timeField() != null) {
      Object value = event.get(schema.timeField());
      if (value == null) {
        // Only reached when the schema declares the time field required: false (checked above otherwise).
        event.put(schema.timeField(), arrivalMillis);
        rewritten = true;
      } else {
        Long parsed = timeMillis(value);
        if (parsed == null) {
          return new Invalid(timeError(schema.timeField(), value));
        }
        if (parsed > arrivalMillis && parsed - arrivalMillis > maxAheadMillis) {
          return new Invalid(futureError(schema.timeField(), parsed, arrivalMillis, maxAheadMillis), Refusal.FUTURE);
        }
        time = parsed;
        if (!(value instanceof Long || value instanceof Integer)) {
          event.put(schema.timeField(), parsed);
          rewritten = true;
        }
      }
    }
    return new Valid(id, key, time, rewritten);
  }

  private static String typeError(FieldSpec field, Object value) {
    boolean ok = switch (field.type()) {
      case STRING -> value instanceof String;
      case NUMBER -> value instanceof Number n && Double.isFinite(n.doubleValue());
      case INTEGER -> value instanceof Integer || value instanceof Long || value instanceof java.math.BigInteger
          || (value instanceof Number n && n.doubleValue() == Math.rint(n.doubleValue()) && Double.isFinite(n.doubleValue()));
      case BOOLEAN -> value instanceof Boolean;
      case TIMESTAMP -> timeMillis(value) != null;
      case OBJECT -> value instanceof Map;
      case ARRAY -> value instanceof List;
    };
    if (ok) {
      return null;
    }
    if (field.type() == FieldType.TIMESTAMP) {
      return timeError(field.name(), value);
    }
    return "field '" + field.name() + "' must be " + article(field.type()) + ", got " + describe(value);
  }

  private static String timeError(String name, Object value) {
    return "field '" + name + "' must be epoch milliseconds or an ISO-8601 timestamp, got " + describe(value);
  }

  /** Epoch millis from a whole number or an ISO-8601 instant / offset date-time; null when neither. */
  static Long timeMillis(Object value) {
    if (value instanceof Integer || value instanceof Long) {
      return ((Number) value).longValue();
    }
    if (value instanceof Number n) {
      double d = n.doubleValue();
      return d == Math.rint(d) && Math.abs(d) < 9.2e18 ? (long) d : null;
    }
    if (value instanceof String s && !s.isEmpty() && s.length() <= 64) {
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
    return null;
  }

  private static String identity(Object value) {
    String text = value instanceof String s ? s
        : value instanceof Integer || value instanceof Long ? value.toString()
        : null;
    return text == null || text.isEmpty() || text.length() > MAX_ID_LENGTH ? null : text;
  }

  private static String article(FieldType type) {
    return switch (type) {
      case INTEGER, OBJECT, ARRAY -> "an " + type.yamlName();
      default -> "a " + type.yamlName();
    };
  }

  private static String describe(Object value) {
    if (value instanceof String s) {
      return "string \"" + (s.length() > 40 ? s.substring(0, 40) + "..." : s) + "\"";
    }
    if (value instanceof Map) {
      return "an object";
    }
    if (value instanceof List) {
      return "an array";
    }
    if (value instanceof Boolean) {
      return "boolean " + value;
    }
    return "number " + value;
  }
}
