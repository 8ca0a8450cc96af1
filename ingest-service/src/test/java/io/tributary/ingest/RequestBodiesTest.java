package io.tributary.ingest;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import io.tributary.common.event.Utf8;
import io.vertx.core.buffer.Buffer;
import java.io.ByteArrayOutputStream;
import java.nio.charset.StandardCharsets;
import java.util.List;
import org.junit.jupiter.api.Test;

class RequestBodiesTest {

  private static final byte[] OVERLONG_SLASH = {(byte) 0xC0, (byte) 0xAF};
  private static final byte[] SURROGATE = {(byte) 0xED, (byte) 0xA0, (byte) 0x80};

  @Test
  void arrayElementsKeepTheirOwnBytesSoMalformedUtf8ReachesTheValidator() {
    byte[] body = concat("[{\"txn_id\":\"u1", OVERLONG_SLASH, "\",\"card_id\":\"C1\"}, {\"txn_id\":\"u2", SURROGATE, "\",\"card_id\":\"C1\"}]");

    List<RawEvent> events = RequestBodies.json(Buffer.buffer(body));

    assertThat(events).hasSize(2);
    assertThat(events).allSatisfy(e -> {
      assertThat(e.parseError()).isNull();
      assertThat(Utf8.firstMalformed(e.bytes())).isEqualTo(13);
    });
    assertThat(events.get(0).bytes()).isEqualTo(concat("{\"txn_id\":\"u1", OVERLONG_SLASH, "\",\"card_id\":\"C1\"}"));
  }

  @Test
  void aStrayByteInOneElementLeavesTheOthersWhole() {
    byte[] body = concat("[{\"a\":\"x\"},{\"b\":\"", new byte[] {(byte) 0xFF}, "\"},{\"c\":1}]");

    List<RawEvent> events = RequestBodies.json(Buffer.buffer(body));

    assertThat(events).extracting(e -> new String(e.bytes(), StandardCharsets.ISO_8859_1))
        .containsExactly("{\"a\":\"x\"}", "{\"b\":\"\u00ff\"}", "{\"c\":1}");
  }

  @Test
  void punctuationInsideStringsAndNestedValuesDoesNotSplit() {
    String first = "{\"s\":\"a,]}[{\\\"\\\\\",\"n\":{\"x\":[1,2,{\"y\":\"]\"}]}}";
    List<RawEvent> events = RequestBodies.json(Buffer.buffer(" \n[ " + first + " ,\n {\"t\":2}\r\n] \n"));

    assertThat(events).extracting(e -> new String(e.bytes(), StandardCharsets.UTF_8)).containsExactly(first, "{\"t\":2}");
  }

  @Test
  void nonObjectElementsAreRefusedOneByOne() {
    List<RawEvent> events = RequestBodies.json(Buffer.buffer("[{\"a\":1}, 7, \"x\", null, [3], {\"b\":2}]"));

    assertThat(events).extracting(RawEvent::parseError)
        .containsExactly(null, "not a JSON object", "not a JSON object", "not a JSON object", "not a JSON object", null);
    assertThat(new String(events.get(2).bytes(), StandardCharsets.UTF_8)).isEqualTo("\"x\"");
  }

  @Test
  void aBrokenObjectInsideAClosedArrayIsLeftToItsOwnValidation() {
    List<RawEvent> events = RequestBodies.json(Buffer.buffer("[{\"a\":tru}, {\"a\":[1}], {\"b\":2}]"));

    assertThat(events).extracting(e -> new String(e.bytes(), StandardCharsets.UTF_8))
        .containsExactly("{\"a\":tru}", "{\"a\":[1}]", "{\"b\":2}");
    assertThat(events).extracting(RawEvent::parseError).containsOnlyNulls();
  }

  @Test
  void anEmptyArrayHoldsNoEvent() {
    assertThat(RequestBodies.json(Buffer.buffer(" [ \n ] "))).isEmpty();
  }

  @Test
  void anArrayThatIsNotWellFramedIsRefusedWhole() {
    assertThatThrownBy(() -> RequestBodies.json(Buffer.buffer("[{\"a\":1}")))
        .isInstanceOf(RequestBodies.MalformedBody.class).hasMessageContaining("not closed");
    assertThatThrownBy(() -> RequestBodies.json(Buffer.buffer("[{\"a\":\"1}]")))
        .isInstanceOf(RequestBodies.MalformedBody.class).hasMessageContaining("not closed");
    assertThatThrownBy(() -> RequestBodies.json(Buffer.buffer("[{\"a\":1},,{\"b\":2}]")))
        .isInstanceOf(RequestBodies.MalformedBody.class).hasMessageContaining("empty element");
    assertThatThrownBy(() -> RequestBodies.json(Buffer.buffer("[{\"a\":1},]")))
        .isInstanceOf(RequestBodies.MalformedBody.class).hasMessageContaining("empty element");
    assertThatThrownBy(() -> RequestBodies.json(Buffer.buffer("[{\"a\":1}] {\"b\":2}")))
        .isInstanceOf(RequestBodies.MalformedBody.class).hasMessageContaining("after the closing");
  }

  @Test
  void otherBodiesKeepTheirAnswers() {
    assertThatThrownBy(() -> RequestBodies.json(Buffer.buffer("42")))
        .isInstanceOf(RequestBodies.MalformedBody.class).hasMessageContaining("must be a JSON object or an array");
    assertThatThrownBy(() -> RequestBodies.json(Buffer.buffer("hello")))
        .isInstanceOf(RequestBodies.MalformedBody.class).hasMessageContaining("not valid JSON");
    assertThatThrownBy(() -> RequestBodies.json(Buffer.buffer(" \n")))
        .isInstanceOf(RequestBodies.MalformedBody.class).hasMessageContaining("empty");
    byte[] single = concat("{\"id\":\"", OVERLONG_SLASH, "\"}");
    assertThat(RequestBodies.json(Buffer.buffer(single))).singleElement().satisfies(e -> assertThat(e.bytes()).isEqualTo(single));
  }

  private static byte[] concat(Object... parts) {
    ByteArrayOutputStream out = new ByteArrayOutputStream();
    for (Object part : parts) {
      out.writeBytes(part instanceof byte[] b ? b : ((String) part).getBytes(StandardCharsets.UTF_8));
    }
    return out.toByteArray();
  }
}
