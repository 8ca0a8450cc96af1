package io.tributary.common.event;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import io.vertx.core.json.JsonObject;
import java.nio.charset.StandardCharsets;
import java.util.Map;
import java.util.Set;
import org.junit.jupiter.api.Test;

class EventScannerTest {

  private static byte[] bytes(String s) {
    return s.getBytes(StandardCharsets.UTF_8);
  }

  @Test
  void readsWantedTopLevelScalarsAndSkipsNestedValues() throws Exception {
    EventScanner.Scan scan = EventScanner.scan(bytes("{\"a\":\"x\",\"n\":{\"a\":\"inner\"},\"b\":12,\"c\":[1,2],\"d\":null}"),
        Set.of("a", "b", "c", "d"), Set.of("n"));
    assertThat(scan.values()).isEqualTo(Map.of("a", "x", "b", "12"));
    assertThat(scan.reservedTaken()).isTrue();
  }

  @Test
  void rejectsWhatIsNotAnObject() {
    assertThatThrownBy(() -> EventScanner.scan(bytes("[1]"), Set.of(), Set.of())).isInstanceOf(EventScanner.NotAnObject.class);
    assertThatThrownBy(() -> EventScanner.scan(bytes("{\"a\":"), Set.of(), Set.of())).isInstanceOf(EventScanner.NotAnObject.class);
  }

  @Test
  void appendedFieldsMakeValidJsonWithEscapedValues() {
    StringBuilder fields = new StringBuilder("\"m\":{");
    JsonText.appendString(fields, "name");
    fields.append(':');
    JsonText.appendString(fields, "Caf\u00e9 \"Le\" \\ \n\u0001 \u2028");
    fields.append('}');
    byte[] out = EventScanner.append(bytes("{ \"id\": \"1\" }\n"), fields.toString());
    JsonObject json = new JsonObject(new String(out, StandardCharsets.UTF_8));
    assertThat(json.getString("id")).isEqualTo("1");
    assertThat(json.getJsonObject("m").getString("name")).isEqualTo("Caf\u00e9 \"Le\" \\ \n\u0001 \u2028");
    assertThat(new String(EventScanner.append(bytes("{}"), "\"f\":true"), StandardCharsets.UTF_8)).isEqualTo("{\"f\":true}");
  }
}
