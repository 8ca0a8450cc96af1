package io.tributary.common.console;

import static org.assertj.core.api.Assertions.assertThat;

import io.tributary.common.pipeline.PipelineParser;
import io.tributary.common.testing.Harness;
import io.vertx.core.json.JsonArray;
import io.vertx.core.json.JsonObject;
import org.junit.jupiter.api.Test;

class PipelineViewTest {

  @Test
  void describesTheDemoPipelineAsDeclared() throws Exception {
    JsonObject view = PipelineView.of(PipelineParser.parse(Harness.projectRoot().resolve("examples/payments.yaml")));
    assertThat(view.getString("pipeline")).isEqualTo("payments");
    assertThat(view.getString("store")).isEqualTo("redis");
    assertThat(view.getJsonArray("sources")).isEmpty();
    assertThat(view.getJsonObject("buses")).isEqualTo(new JsonObject()
        .put("ingested", "kafka:events.ingested").put("enriched", "kafka:events.enriched")
        .put("updates", "kafka:aggregates.updates").put("deadLetter", "kafka:events.dlq"));
    assertThat(view.getJsonArray("lookups")).containsExactly(
        new JsonObject().put("name", "merchant").put("kind", "record").put("store", "redis").put("by", "merchant_id")
            .put("fields", new JsonArray().add("name").add("category").add("country").add("risk")).put("onMissing", "pass"),
        new JsonObject().put("name", "blocked_cards").put("kind", "set").put("store", "redis").put("by", "card_id").put("action", "drop"));
    assertThat(view.getJsonArray("histories")).containsExactly(new JsonObject().put("name", "card")
        .put("by", new JsonArray().add("card_id")).put("store", "redis").put("retention", "1d1h")
        .put("features", new JsonArray().add("count_1h").add("spend_1h").add("spend_24h").add("last_merchants")));
    JsonArray aggregations = view.getJsonArray("aggregations");
    assertThat(aggregations.getJsonObject(0)).isEqualTo(new JsonObject().put("name", "spend_by_card")
        .put("groupBy", new JsonArray().add("card_id")).put("window", "tumbling 1h").put("retention", "7d")
        .put("measures", new JsonArray().add("count").add("total").add("largest").add("merchants")));
    assertThat(aggregations.getJsonObject(1).getString("window")).isEqualTo("hopping 5m every 1m");
    assertThat(aggregations.getJsonObject(1).getJsonArray("groupBy")).containsExactly("merchant.category");
  }
}
