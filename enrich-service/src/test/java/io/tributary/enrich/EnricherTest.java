package io.tributary.enrich;

import static org.assertj.core.api.Assertions.assertThat;

import io.tributary.common.pipeline.Lookup;
import io.tributary.common.pipeline.Pipeline;
import io.tributary.common.pipeline.PipelineParser;
import io.vertx.core.json.JsonObject;
import java.util.Map;
import java.util.Set;
import org.junit.jupiter.api.Test;

class EnricherTest {

  private static Pipeline pipeline(String onMissing, String action) {
    return PipelineParser.parse("""
        pipeline: t
        schema:
          id: id
          key: card
          fields: {card: string, shop: string}
        lookups:
          - {name: shop_info, by: shop, fields: [name, category], onMissing: %s}
          - {name: blocked, kind: set, by: card, action: %s}
        """.formatted(onMissing, action), "t.yaml");
  }

  private static Enricher.Found found(Map<String, Map<String, String>> records, Set<String> blocked) {
    return new Enricher.Found() {
      @Override
      public Map<String, String> record(Lookup lookup, String key) {
        return records.get(key);
      }

      @Override
      public boolean member(Lookup lookup, String key) {
        return blocked.contains(key);
      }
    };
  }

  private static JsonObject emitted(Decision decision) {
    assertThat(decision).isInstanceOf(Decision.Emit.class);
    byte[] event = "{\"id\":\"1\"}".getBytes(java.nio.charset.StandardCharsets.UTF_8);
    return new JsonObject(new String(io.tributary.common.event.EventScanner.append(event, ((Decision.Emit) decision).appended()),
        java.nio.charset.StandardCharsets.UTF_8));
  }

  @Test
  void recordFieldsAreAddedUnderTheLookupNameAndFlagsAsBooleans() {
    Enricher enricher = new Enricher(pipeline("pass", "flag").lookups());
    Decision d = enricher.decide(Map.of("shop", "S1", "card", "C1"),
        found(Map.of("S1", Map.of("name", "Cafe", "category", "food")), Set.of("C1")));
    JsonObject out = emitted(d);
    assertThat(out.getJsonObject("shop_info").getMap()).isEqualTo(Map.of("name", "Cafe", "category", "food"));
    assertThat(out.getBoolean("blocked")).isTrue();
    assertThat(emitted(enricher.decide(Map.of("shop", "S1", "card", "C2"), found(Map.of("S1", Map.of("name", "x")), Set.of("C1"))))
        .getBoolean("blocked")).isFalse();
    assertThat(enricher.byFields()).containsExactly("shop", "card");
    assertThat(enricher.addedNames()).containsExactly("shop_info", "blocked");
  }

  @Test
  void onMissingPassDropAndDlq() {
    Map<String, String> event = Map.of("shop", "S404", "card", "C1");
    Enricher.Found none = found(Map.of(), Set.of());
    assertThat(emitted(new Enricher(pipeline("pass", "drop").lookups()).decide(event, none)).containsKey("shop_info")).isFalse();
    assertThat(new Enricher(pipeline("drop", "drop").lookups()).decide(event, none)).isInstanceOf(Decision.Drop.class);
    assertThat(new Enricher(pipeline("dlq", "drop").lookups()).decide(event, none))
        .isEqualTo(new Decision.DeadLetter("look-up 'shop_info': no record for shop=S404"));
  }

  @Test
  void absentByFieldCountsAsMissingAndNotListed() {
    Enricher enricher = new Enricher(pipeline("dlq", "dlq").lookups());
    assertThat(enricher.decide(Map.of("card", "C1"), found(Map.of(), Set.of("C1"))))
        .isEqualTo(new Decision.DeadLetter("look-up 'shop_info': no record for shop=null"));
  }

  @Test
  void setActionsDropOrDeadLetterMembers() {
    Map<String, String> event = Map.of("shop", "S1", "card", "C1");
    Enricher.Found listed = found(Map.of("S1", Map.of("name", "x")), Set.of("C1"));
    assertThat(new Enricher(pipeline("pass", "drop").lookups()).decide(event, listed)).isInstanceOf(Decision.Drop.class);
    assertThat(new Enricher(pipeline("pass", "dlq").lookups()).decide(event, listed))
        .isEqualTo(new Decision.DeadLetter("look-up 'blocked': card=C1 is listed"));
    assertThat(new Enricher(pipeline("pass", "dlq").lookups()).decide(Map.of("shop", "S1", "card", "C2"), listed))
        .isInstanceOf(Decision.Emit.class);
  }
}
