package io.tributary.common.pipeline;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import java.nio.file.Path;
import java.time.Duration;
import java.util.List;
import org.junit.jupiter.api.Test;

class PipelineParserTest {

  private static final String DEMO = Path.of("..", "examples", "payments.yaml").toString();

  @Test
  void demoPipelineParsesWithEveryPartOfTheGrammar() {
    Pipeline p = PipelineParser.parse(Path.of(DEMO));
    assertThat(p.name()).isEqualTo("payments");
    assertThat(p.schema().idField()).isEqualTo("txn_id");
    assertThat(p.schema().keyField()).isEqualTo("card_id");
    assertThat(p.schema().timeField()).isEqualTo("ts");
    assertThat(p.schema().field("amount").type()).isEqualTo(FieldType.NUMBER);
    assertThat(p.schema().field("currency").required()).isFalse();
    assertThat(p.schema().field("txn_id").required()).isTrue();
    assertThat(p.schema().field("ts").type()).isEqualTo(FieldType.TIMESTAMP);

    Lookup merchant = p.lookup("merchant").orElseThrow();
    assertThat(merchant.kind()).isEqualTo(Lookup.Kind.RECORD);
    assertThat(merchant.store()).isEqualTo(Store.REDIS);
    assertThat(merchant.by()).isEqualTo("merchant_id");
    assertThat(merchant.fields()).containsExactly("name", "category", "country", "risk");
    assertThat(merchant.onMissing()).isEqualTo(Lookup.OnMissing.PASS);
    Lookup blocked = p.lookup("blocked_cards").orElseThrow();
    assertThat(blocked.kind()).isEqualTo(Lookup.Kind.SET);
    assertThat(blocked.action()).isEqualTo(Lookup.SetAction.DROP);

    Aggregation byCard = p.aggregation("spend_by_card").orElseThrow();
    assertThat(byCard.groupBy()).containsExactly("card_id");
    assertThat(byCard.window()).isEqualTo(WindowSpec.tumbling(Duration.ofHours(1)));
    assertThat(byCard.retention()).isEqualTo(Duration.ofDays(7));
    assertThat(byCard.allowedLateness()).isZero();
    assertThat(byCard.measures().values()).extracting(Measure::toString)
        .containsExactly("count()", "sum(amount)", "max(amount)", "distinct(merchant_id)");

    Aggregation byCategory = p.aggregation("spend_by_category").orElseThrow();
    assertThat(byCategory.groupBy()).containsExactly("merchant.category");
    assertThat(byCategory.window()).isEqualTo(WindowSpec.hopping(Duration.ofMinutes(5), Duration.ofMinutes(1)));
    assertThat(byCategory.allowedLateness()).isEqualTo(Duration.ofSeconds(30));
    assertThat(byCategory.measures().get("mean").function()).isEqualTo(Measure.Function.AVG);

    assertThat(p.buses().ingested()).isEqualTo(new BusRef(BusRef.Kind.KAFKA, "events.ingested"));
    assertThat(p.buses().deadLetter().target()).isEqualTo("events.dlq");
    assertThat(p.sources()).isEmpty();
  }

  @Test
  void unknownMeasureIsNamedWithItsLine() {
    String yaml = valid().replace("total: sum(amount)", "total: median(amount)");
    assertThatThrownBy(() -> PipelineParser.parse(yaml, "bad.yaml"))
        .isInstanceOf(PipelineException.class)
        .hasMessageContaining("bad.yaml")
        .hasMessageContaining("line 22: aggregations.by_card.measures.total: unknown measure 'median'");
  }

  @Test
  void groupByAnUnknownLookupIsRejected() {
    String yaml = valid().replace("groupBy: [card_id]", "groupBy: [shop.category]");
    assertThatThrownBy(() -> PipelineParser.parse(yaml, "bad.yaml"))
        .hasMessageContaining("line 18: aggregations.by_card.groupBy: 'shop.category' is neither a schema field nor a field of a look-up (no look-up named 'shop')");
  }

  @Test
  void groupByAFieldTheLookupDoesNotAddIsRejected() {
    String yaml = valid().replace("groupBy: [card_id]", "groupBy: [merchant.owner]");
    assertThatThrownBy(() -> PipelineParser.parse(yaml, "bad.yaml"))
        .hasMessageContaining("look-up 'merchant' does not add a field 'owner'; it adds [name, category]");
  }

  @Test
  void windowWithoutSizeIsRejected() {
    String yaml = valid().replace("window: {tumbling: 1h}", "window: {every: 1m}");
    assertThatThrownBy(() -> PipelineParser.parse(yaml, "bad.yaml"))
        .hasMessageContaining("line 19: aggregations.by_card.window: needs a size");
  }

  @Test
  void durationThatDoesNotParseIsRejected() {
    String yaml = valid().replace("retention: 7d", "retention: 7 days");
    assertThatThrownBy(() -> PipelineParser.parse(yaml, "bad.yaml"))
        .hasMessageContaining("line 20: aggregations.by_card.retention: '7 days' is not a duration");
  }

  @Test
  void missingSchemaIdIsRejected() {
    String yaml = valid().replace("  id: txn_id\n", "");
    assertThatThrownBy(() -> PipelineParser.parse(yaml, "bad.yaml"))
        .hasMessageContaining("line 3: schema.id: is missing");
  }

  @Test
  void everyProblemIsReportedAtOnce() {
    String yaml = valid().replace("total: sum(amount)", "total: median(amount)").replace("retention: 7d", "retention: soon")
        .replace("onMissing: pass", "onMissing: ignore");
    PipelineException e = org.junit.jupiter.api.Assertions.assertThrows(PipelineException.class,
        () -> PipelineParser.parse(yaml, "bad.yaml"));
    assertThat(e.problems()).hasSize(3);
    assertThat(e.problems().get(0)).contains("lookups.merchant.onMissing: unknown value 'ignore'; expected one of pass, drop, dlq");
  }

  @Test
  void typoInAKeyIsRejected() {
    String yaml = valid().replace("groupBy: [card_id]", "groupBy: [card_id]\n    windw: {tumbling: 1h}");
    assertThatThrownBy(() -> PipelineParser.parse(yaml, "bad.yaml"))
        .hasMessageContaining("aggregations.by_card.windw: unknown key");
  }

  @Test
  void sumOfAStringFieldIsRejected() {
    String yaml = valid().replace("total: sum(amount)", "total: sum(merchant_id)");
    assertThatThrownBy(() -> PipelineParser.parse(yaml, "bad.yaml"))
        .hasMessageContaining("'merchant_id' is a string field; this measure needs a number or integer field");
  }

  @Test
  void hoppingWindowLongerStepThanSizeIsRejected() {
    String yaml = valid().replace("window: {tumbling: 1h}", "window: {hopping: 1m, every: 5m}");
    assertThatThrownBy(() -> PipelineParser.parse(yaml, "bad.yaml"))
        .hasMessageContaining("aggregations.by_card.window.every: (5m) is longer than the window (1m)");
  }

  @Test
  void retentionShorterThanWindowIsRejected() {
    String yaml = valid().replace("retention: 7d", "retention: 30m");
    assertThatThrownBy(() -> PipelineParser.parse(yaml, "bad.yaml"))
        .hasMessageContaining("is shorter than the window size plus allowedLateness (1h)");
  }

  @Test
  void cascadeExampleReadsTheDemosUpdatesAndDeDuplicatesThemById() {
    Pipeline risk = PipelineParser.parse(Path.of("..", "examples", "risk.yaml"));
    assertThat(risk.sources()).containsExactly(new BusRef(BusRef.Kind.KAFKA, "aggregates.updates"));
    assertThat(risk.sources()).contains(PipelineParser.parse(Path.of(DEMO)).buses().updates());
    assertThat(risk.schema().idField()).isEqualTo("id");
    assertThat(risk.schema().timeField()).isEqualTo("windowStart");
    Aggregation peaks = risk.aggregation("daily_peaks").orElseThrow();
    assertThat(peaks.groupBy()).containsExactly("aggregation", "group");
    assertThat(peaks.measures().values()).extracting(Measure::function).containsOnly(Measure.Function.MAX);
  }

  @Test
  void unknownBusAndFieldTypeAreRejected() {
    String yaml = valid().replace("amount: number", "amount: decimal") + "buses:\n  enriched: nats:x\n";
    PipelineException e = org.junit.jupiter.api.Assertions.assertThrows(PipelineException.class,
        () -> PipelineParser.parse(yaml, "bad.yaml"));
    assertThat(String.join("\n", e.problems()))
        .contains("schema.fields.amount: unknown type 'decimal'")
        .contains("buses.enriched: unknown bus 'nats'");
  }

  @Test
  void busesBetweenStagesCanBeNamedOutputsAndNothingElseCan() {
    Pipeline demo = PipelineParser.parse(Path.of(DEMO));
    assertThat(demo.buses().outputs()).containsExactly(demo.buses().enriched());
    assertThat(demo.buses().isOutput(demo.buses().enriched())).isTrue();
    assertThat(demo.buses().isOutput(demo.buses().ingested())).isFalse();
    assertThat(demo.buses().isOutput(demo.buses().updates())).as("updates are an output always").isTrue();

    Pipeline none = PipelineParser.parse(valid(), "ok.yaml");
    assertThat(none.buses().outputs()).isEmpty();

    PipelineException e = org.junit.jupiter.api.Assertions.assertThrows(PipelineException.class,
        () -> PipelineParser.parse(valid() + "buses:\n  outputs: [enriched, updates, nope]\n", "bad.yaml"));
    assertThat(String.join("\n", e.problems()))
        .contains("buses.outputs[1]: 'updates' is not a bus between stages")
        .contains("buses.outputs[2]: 'nope' is not a bus between stages")
        .doesNotContain("outputs[0]");
  }

  @Test
  void flagLookupAddsABooleanFieldUsableInGroupBy() {
    String yaml = valid().replace("action: drop", "action: flag").replace("groupBy: [card_id]", "groupBy: [blocked]");
    Pipeline p = PipelineParser.parse(yaml, "ok.yaml");
    assertThat(p.aggregations().get(0).groupBy()).isEqualTo(List.of("blocked"));
  }

  @Test
  void defaultsApplyWhenOptionalPartsAreAbsent() {
    Pipeline p = PipelineParser.parse("""
        pipeline: minimal
        schema:
          id: id
          key: device
          fields: {temperature: number}
        """, "minimal.yaml");
    assertThat(p.schema().timeField()).isNull();
    assertThat(p.schema().field("device").required()).isTrue();
    assertThat(p.lookups()).isEmpty();
    assertThat(p.buses().enriched().toString()).isEqualTo("kafka:events.enriched");
    assertThat(p.consumerGroup("enrich")).isEqualTo("tributary.minimal.enrich");
  }

  @Test
  void theTimeFieldIsRequiredUnlessDeclaredOptionalAndItsFutureBoundIsSettable() {
    Pipeline required = PipelineParser.parse(valid(), "t.yaml");
    assertThat(required.schema().field("ts").required()).isTrue();
    assertThat(required.schema().arrivalTimeWhenMissing()).isFalse();
    assertThat(required.schema().maxAhead()).isEqualTo(Duration.ofHours(1));

    Pipeline optional = PipelineParser.parse(valid().replace("amount: number", "amount: number\n    ts: {type: timestamp, required: false}"), "t.yaml");
    assertThat(optional.schema().arrivalTimeWhenMissing()).isTrue();

    Pipeline bounded = PipelineParser.parse(valid().replace("time: ts", "time: {field: ts, maxAhead: 10m}"), "t.yaml");
    assertThat(bounded.schema().timeField()).isEqualTo("ts");
    assertThat(bounded.schema().maxAhead()).isEqualTo(Duration.ofMinutes(10));
    assertThat(bounded.schema().field("ts").required()).isTrue();

    assertThatThrownBy(() -> PipelineParser.parse(valid().replace("time: ts", "time: {maxAhead: 0s, zone: utc}"), "t.yaml"))
        .hasMessageContaining("schema.time.field: is missing")
        .hasMessageContaining("schema.time.maxAhead: must be a positive duration")
        .hasMessageContaining("zone");
  }

  @Test
  void thePipelinesStoreHoldsTheStateAndIsEveryLookupsStoreUnlessItNamesItsOwn() {
    assertThat(PipelineParser.parse(valid(), "t.yaml").store()).isEqualTo(Store.REDIS);
    Pipeline sql = PipelineParser.parse("store: sql\n" + valid().replace("- {name: blocked, kind: set,", "- {name: blocked, kind: set, store: redis,"),
        "t.yaml");
    assertThat(sql.store()).isEqualTo(Store.SQL);
    assertThat(sql.lookup("merchant").orElseThrow().store()).isEqualTo(Store.SQL);
    assertThat(sql.lookup("blocked").orElseThrow().store()).isEqualTo(Store.REDIS);
    assertThatThrownBy(() -> PipelineParser.parse("store: mongo\n" + valid(), "t.yaml")).hasMessageContaining("store");
  }

  @Test
  void notYamlIsReportedWithItsLine() {
    assertThatThrownBy(() -> PipelineParser.parse("pipeline: x\nschema: [\n", "broken.yaml"))
        .hasMessageContaining("not valid YAML");
  }

  static String valid() {
    return """
        pipeline: test
        schema:
          id: txn_id
          key: card_id
          time: ts
          fields:
            card_id: string
            merchant_id: string
            amount: number
        lookups:
          - name: merchant
            by: merchant_id
            fields: [name, category]
            onMissing: pass
          - {name: blocked, kind: set, by: card_id, action: drop}
        aggregations:
          - name: by_card
            groupBy: [card_id]
            window: {tumbling: 1h}
            retention: 7d
            measures:
              total: sum(amount)
              n: count()
        """;
  }

  private static final String HISTORY = """
      pipeline: h
      schema:
        id: txn_id
        key: card_id
        time: ts
        fields: {card_id: string, merchant_id: string, amount: number}
      lookups:
        - {name: merchant, by: merchant_id, fields: [category]}
      histories:
        - name: card
          keep: [merchant.category]
          retention: 30d
          features:
            spend_1h: {measure: sum(amount), last: 1h}
            count_24h: {measure: count(), last: 24h}
            shops_1h: {measure: distinct(merchant_id), last: 1h}
            last_shops: {latest: merchant_id, n: 5}
          matches: {last: 2h, limit: 4}
      aggregations:
        - name: by_activity
          groupBy: [card.count_24h]
          window: {tumbling: 1h}
          measures: {spend: sum(card.spend_1h)}
      """;

  @Test
  void historyDeclaresItsKeyFieldsWindowsAndFeaturesAndAggregationsGroupOnThem() {
    Pipeline p = PipelineParser.parse(HISTORY, "h.yaml");
    History card = p.histories().get(0);
    assertThat(card.by()).containsExactly("card_id");
    assertThat(card.store()).isEqualTo(Store.REDIS);
    assertThat(card.keep()).containsExactly("merchant.category", "amount", "merchant_id");
    assertThat(card.retention()).isEqualTo(Duration.ofDays(30));
    assertThat(card.windows()).containsExactly(Duration.ofHours(1), Duration.ofHours(24));
    assertThat(card.features().get("spend_1h")).isEqualTo(new History.Over("spend_1h",
        new Measure("spend_1h", Measure.Function.SUM, "amount"), Duration.ofHours(1)));
    assertThat(card.features().get("last_shops")).isEqualTo(new History.Latest("last_shops", "merchant_id", 5));
    assertThat(card.matches()).isEqualTo(new History.Matches(Duration.ofHours(2), 4));
    assertThat(History.bucketWidth(Duration.ofHours(1))).isEqualTo(60_000L);
    assertThat(p.aggregation("by_activity").orElseThrow().groupBy()).containsExactly("card.count_24h");
  }

  @Test
  void historyRetentionDefaultsToItsLongestWindowAndMayNotBeShorter() {
    assertThat(PipelineParser.parse(HISTORY.replace("    retention: 30d\n", ""), "h.yaml").histories().get(0).retention())
        .isEqualTo(Duration.ofHours(24));
    assertThatThrownBy(() -> PipelineParser.parse(HISTORY.replace("retention: 30d", "retention: 2h"), "bad.yaml"))
        .hasMessageContaining("histories.card.retention: (2h) is shorter than the longest feature window");
  }

  @Test
  void historyKeyedWithoutTheEntityKeyIsRejectedBecauseItsEventsWouldSpanPartitions() {
    assertThatThrownBy(() -> PipelineParser.parse(HISTORY.replace("- name: card\n", "- name: card\n    by: [merchant_id]\n"), "bad.yaml"))
        .hasMessageContaining("histories.card.by: must include the entity key 'card_id'");
  }

  @Test
  void historyMistakesAreNamed() {
    String yaml = HISTORY.replace("sum(amount), last: 1h", "sum(merchant_id), last: 1h").replace("n: 5", "n: 500").replace("sum(card.spend_1h)", "sum(card.nothing)");
    PipelineException e = org.junit.jupiter.api.Assertions.assertThrows(PipelineException.class, () -> PipelineParser.parse(yaml, "bad.yaml"));
    assertThat(String.join("\n", e.problems()))
        .contains("histories.card.features.spend_1h.measure: 'merchant_id' is a string field")
        .contains("histories.card.features.last_shops.n: must be a whole number between 1 and 100")
        .contains("history 'card' has no feature 'nothing'");
    assertThatThrownBy(() -> PipelineParser.parse(HISTORY.replace("groupBy: [card.count_24h]", "groupBy: [card.last_shops]"), "bad.yaml"))
        .hasMessageContaining("'card.last_shops' is a list of latest values");
    assertThatThrownBy(() -> PipelineParser.parse(HISTORY.replace("- name: card", "- name: merchant"), "bad.yaml"))
        .hasMessageContaining("is declared twice");
  }

  @Test
  void theDemoPipelineAddsItsCardsHistoryToEveryPayment() {
    History card = PipelineParser.parse(Path.of(DEMO)).histories().get(0);
    assertThat(card.name()).isEqualTo("card");
    assertThat(card.features()).containsOnlyKeys("count_1h", "spend_1h", "spend_24h", "last_merchants");
  }
}
