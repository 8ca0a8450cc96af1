package io.tributary.common.console;

import static org.assertj.core.api.Assertions.assertThat;

import io.vertx.core.json.JsonArray;
import io.vertx.core.json.JsonObject;
import java.util.List;
import org.junit.jupiter.api.Test;

class DeadLetterPageTest {

  private static JsonObject letter(long offset, String reason) {
    return new JsonObject().put("offset", offset).put("reason", reason).put("stage", "ingest").put("input", "{}");
  }

  private static final List<JsonObject> NEWEST_FIRST = List.of(
      letter(5, "field 'amount' must be a number"),
      letter(4, "late: window closed"),
      letter(3, "field 'amount' must be a number"),
      letter(2, "Field 'AMOUNT' missing"),
      letter(1, "late: window closed"),
      letter(0, "field 'amount' must be a number"));

  private static List<Long> offsets(JsonObject page) {
    return page.getJsonArray("deadLetters").stream().map(d -> ((JsonObject) d).getLong("offset")).toList();
  }

  @Test
  void showsTheNewestUpToTheLimitInTheOrderRead() {
    JsonObject page = DeadLetterPage.of("kafka:x.dlq", NEWEST_FIRST, 3, null);
    assertThat(offsets(page)).containsExactly(5L, 4L, 3L);
    assertThat(page.getInteger("scanned")).isEqualTo(6);
    assertThat(page.getString("bus")).isEqualTo("kafka:x.dlq");
  }

  @Test
  void filtersByAPartOfTheReasonIgnoringCase() {
    assertThat(offsets(DeadLetterPage.of("b", NEWEST_FIRST, 10, " Amount "))).containsExactly(5L, 3L, 2L, 0L);
    assertThat(offsets(DeadLetterPage.of("b", NEWEST_FIRST, 2, "amount"))).containsExactly(5L, 3L);
    assertThat(offsets(DeadLetterPage.of("b", NEWEST_FIRST, 10, "nothing like it"))).isEmpty();
  }

  @Test
  void countsEveryReasonReadMostFrequentFirstWhateverTheFilter() {
    JsonArray reasons = DeadLetterPage.of("b", NEWEST_FIRST, 1, "late").getJsonArray("reasons");
    assertThat(reasons).containsExactly(
        new JsonObject().put("reason", "field 'amount' must be a number").put("count", 3),
        new JsonObject().put("reason", "late: window closed").put("count", 2),
        new JsonObject().put("reason", "Field 'AMOUNT' missing").put("count", 1));
  }
}
