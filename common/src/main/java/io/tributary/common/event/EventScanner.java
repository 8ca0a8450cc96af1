package io.tributary.common.event;

import com.fasterxml.jackson.core.JsonFactory;
import com.fasterxml.jackson.core.JsonParser;
import com.fasterxml.jackson.core.JsonToken;
import java.io.IOException;
import java.nio.charset.StandardCharsets;
import java.util.Arrays;
import java.util.HashMap;
import java.util.Map;
import java.util.Set;

/**
 * Reads selected top-level fields of a JSON event without building the whole object, and appends
 * fields to an event's bytes without re-encoding it. This keeps the enrich stage's per-event cost
 * to one streaming pass over the bytes.
 */
public final class EventScanner {

  private static final JsonFactory FACTORY = JsonFactory.builder().build();

  private EventScanner() {
  }

  /** What a scan found: the wanted scalar fields as text, and whether any reserved name is taken. */
  public record Scan(Map<String, String> values, boolean reservedTaken) {
  }

  /** Thrown for bytes that are not a JSON object. */
  public static final class NotAnObject extends Exception {
    public NotAnObject(String message) {
      super(message);
    }
  }

  public static Scan scan(byte[] json, Set<String> wanted, Set<String> reserved) throws NotAnObject {
    Map<String, String> values = new HashMap<>(wanted.size() * 2);
    boolean taken = false;
    try (JsonParser parser = FACTORY.createParser(json)) {
      if (parser.nextToken() != JsonToken.START_OBJECT) {
        throw new NotAnObject("not a JSON object");
      }
      JsonToken token;
      while ((token = parser.nextToken()) == JsonToken.FIELD_NAME) {
        String name = parser.currentName();
        JsonToken value = parser.nextToken();
        if (reserved.contains(name)) {
          taken = true;
        }
        if (value == JsonToken.START_OBJECT || value == JsonToken.START_ARRAY) {
          parser.skipChildren();
        } else if (wanted.contains(name) && value != JsonToken.VALUE_NULL) {
          values.put(name, parser.getText());
        }
      }
      if (token != JsonToken.END_OBJECT) {
        throw new NotAnObject("not a complete JSON object");
      }
    } catch (IOException e) {
      throw new NotAnObject("not valid JSON: " + e.getMessage().split("\n", 2)[0]);
    }
    return new Scan(values, taken);
  }

  /**
   * The scalar values at {@code paths}: top-level fields ({@code amount}) or fields one level down
   * ({@code merchant.category}, as enrichment adds them), as text; absent and null values are left out.
   */
  public static Map<String, String> values(byte[] json, Set<String> paths) throws NotAnObject {
    Map<String, String> values = new HashMap<>(paths.size() * 2);
    try (JsonParser parser = FACTORY.createParser(json)) {
      if (parser.nextToken() != JsonToken.START_OBJECT) {
        throw new NotAnObject("not a JSON object");
      }
      readObject(parser, "", paths, values, 0);
    } catch (IOException e) {
      throw new NotAnObject("not valid JSON: " + e.getMessage().split("\n", 2)[0]);
    }
    return values;
  }

  private static void readObject(JsonParser parser, String prefix, Set<String> paths, Map<String, String> values, int depth)
      throws IOException, NotAnObject {
    JsonToken token;
    while ((token = parser.nextToken()) == JsonToken.FIELD_NAME) {
      String path = prefix + parser.currentName();
      JsonToken value = parser.nextToken();
      if (value == JsonToken.START_OBJECT && depth == 0 && hasChild(paths, path)) {
        readObject(parser, path + ".", paths, values, depth + 1);
      } else if (value == JsonToken.START_OBJECT || value == JsonToken.START_ARRAY) {
        parser.skipChildren();
      } else if (value != JsonToken.VALUE_NULL && paths.contains(path)) {
        values.put(path, parser.getText());
      }
    }
    if (token != JsonToken.END_OBJECT) {
      throw new NotAnObject("not a complete JSON object");
    }
  }

  private static boolean hasChild(Set<String> paths, String parent) {
    for (String p : paths) {
      if (p.length() > parent.length() && p.startsWith(parent) && p.charAt(parent.length()) == '.') {
        return true;
      }
    }
    return false;
  }

  /**
   * The event with {@code fields} (already-encoded {@code "name":value} pairs, comma separated)
   * added before its closing brace.
   */
  public static byte[] append(byte[] json, String fields) {
    if (fields.isEmpty()) {
      return json;
    }
    int end = json.length - 1;
    while (end >= 0 && json[end] != '}') {
      end--;
    }
    int before = end - 1;
    while (before >= 0 && Character.isWhitespace(json[before])) {
      before--;
    }
    boolean empty = before >= 0 && json[before] == '{';
    byte[] extra = ((empty ? "" : ",") + fields + "}").getBytes(StandardCharsets.UTF_8);
    byte[] out = Arrays.copyOf(json, end + extra.length);
    System.arraycopy(extra, 0, out, end, extra.length);
    return out;
  }
}
