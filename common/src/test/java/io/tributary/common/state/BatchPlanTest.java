package io.tributary.common.state;

import static org.assertj.core.api.Assertions.assertThat;

import io.tributary.common.pipeline.Pipeline;
import io.tributary.common.pipeline.PipelineParser;
import java.util.List;
import java.util.Map;
import java.util.Set;
import org.junit.jupiter.api.Test;

class BatchPlanTest {

  private static final Pipeline PIPELINE = PipelineParser.parse("""
      pipeline: t
      schema: {id: id, key: card, time: ts, fields: {card: string, amount: number, shop: string}}
      lookups: [{name: m, by: shop, fields: [cat]}]
      aggregations:
        - name: by_card
          groupBy: [card]
          window: {tumbling: 1h}
          allowedLateness: 10m
          measures: {n: count(), total: sum(amount), low: min(amount), high: max(amount), mean: avg(amount), shops: distinct(shop)}
        - name: by_cat
          groupBy: [m.cat, card]
          window: {hopping: 5m, every: 1m}
          measures: {n: count()}
      """, "t.yaml");
  private static final long H = 3_600_000L;

  private static EventFacts event(String id, long time, String card, String amount, String cat) {
    Map<String, String> values = cat == null
        ? Map.of("card", card, "amount", amount, "shop", "S" + id)
        : Map.of("card", card, "amount", amount, "shop", "S" + id, "m.cat", cat);
    return new EventFacts(id, time, values, 0);
  }

  @Test
  void mergesEventsIntoWindowDeltasAndAdvancesStreamTime() {
    BatchPlan plan = BatchPlan.of(PIPELINE.aggregations(), Position.NONE, List.of(
        event("1", 10 * H + 1, "C1", "5", null),
        event("2", 10 * H + 2, "C1", "7.5", null),
        event("3", 11 * H, "C2", "1", null)), Set.of());
    assertThat(plan.streamTime()).isEqualTo(11 * H);
    assertThat(plan.applied()).isEqualTo(3);
    WindowDelta c1 = plan.deltas().stream().filter(d -> d.group().equals("C1")).findFirst().orElseThrow();
    assertThat(c1.start()).isEqualTo(10 * H);
    assertThat(c1.count()).isEqualTo(2);
    assertThat(c1.sums()).containsEntry("total", 12.5).containsEntry("mean", 12.5);
    assertThat(c1.counts()).containsEntry("total", 2L);
    assertThat(c1.mins()).containsEntry("low", 5.0);
    assertThat(c1.maxs()).containsEntry("high", 7.5);
    assertThat(c1.distinct().get("shops")).containsExactly("S1", "S2");
    assertThat(plan.deltas()).noneMatch(d -> d.aggregation().name().equals("by_cat"));
    assertThat(plan.newIds().values().stream().flatMap(List::stream)).containsExactlyInAnyOrder("1", "2", "3");
  }

  @Test
  void measuresOverRequiredNumbersKeepNoValueCountOfTheirOwn() {
    BatchPlan plan = BatchPlan.of(PIPELINE.aggregations(), Set.of("amount"), Position.NONE,
        List.of(event("1", H, "C1", "5", null)), Set.of());
    assertThat(plan.deltas().get(0).counts()).isEmpty();
    assertThat(plan.deltas().get(0).sums()).containsEntry("total", 5.0);
  }

  @Test
  void skipsIdsAppliedBeforeAndRepeatedInTheBatch() {
    BatchPlan plan = BatchPlan.of(PIPELINE.aggregations(), Position.NONE, List.of(
        event("1", H, "C1", "5", null), event("1", H, "C1", "5", null), event("2", H, "C1", "5", null)), Set.of("2"));
    assertThat(plan.duplicates()).isEqualTo(2);
    assertThat(plan.applied()).isEqualTo(1);
    assertThat(plan.deltas().get(0).count()).isEqualTo(1);
  }

  @Test
  void lateEventsGoToOpenWindowsOnlyAndAreReportedPerAggregation() {
    long st = 11 * H + 5 * 60_000L;
    BatchPlan plan = BatchPlan.of(PIPELINE.aggregations(), new Position(10, st), List.of(
        event("a", 10 * H + 30 * 60_000L, "C1", "1", "food"),
        event("b", 11 * H + 4 * 60_000L, "C1", "1", "food")), Set.of());
    // "a": its hour [10h,11h) is open until 11h10m, so it counts for by_card; its 5-minute windows closed long ago.
    assertThat(plan.late()).hasSize(1);
    assertThat(plan.late().get(0).event().id()).isEqualTo("a");
    assertThat(plan.late().get(0).aggregations()).containsExactly("by_cat");
    assertThat(plan.deltas().stream().filter(d -> d.aggregation().name().equals("by_card")).mapToLong(WindowDelta::count).sum())
        .isEqualTo(2);
    // "b" at 11h04m, stream time 11h05m, no lateness: of its windows starting 11h00..11h04, the one
    // ending at 11h05 has just closed; the other four take it.
    assertThat(plan.deltas().stream().filter(d -> d.aggregation().name().equals("by_cat"))).hasSize(4)
        .allMatch(d -> d.group().equals("food|C1"));
    assertThat(plan.newIds().values().stream().flatMap(List::stream)).containsExactlyInAnyOrder("a", "b");
  }

  @Test
  void anEventLateForEveryAggregationIsNotRecordedAsApplied() {
    BatchPlan plan = BatchPlan.of(PIPELINE.aggregations(), new Position(10, 20 * H), List.of(event("x", H, "C1", "1", "food")), Set.of());
    assertThat(plan.late().get(0).aggregations()).containsExactly("by_card", "by_cat");
    assertThat(plan.applied()).isZero();
    assertThat(plan.newIds()).isEmpty();
    assertThat(plan.streamTime()).isEqualTo(20 * H);
  }

  @Test
  void nonNumericValuesAreLeftOutOfNumericMeasuresButCounted() {
    BatchPlan plan = BatchPlan.of(PIPELINE.aggregations(), Position.NONE, List.of(event("1", H, "C1", "n/a", null)), Set.of());
    WindowDelta d = plan.deltas().get(0);
    assertThat(d.count()).isEqualTo(1);
    assertThat(d.sums()).isEmpty();
  }
}
