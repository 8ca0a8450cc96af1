package io.tributary.common.state;

import static org.assertj.core.api.Assertions.assertThat;

import io.tributary.common.pipeline.Aggregation;
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
  private static final Aggregation BY_CARD = PIPELINE.aggregations().get(0);
  private static final long H = 3_600_000L;
  /** The wall clock: far after every event time below. */
  private static final long NOW = 1000 * H;
  private static final long MAX_AHEAD = H;

  private static EventFacts event(String id, long time, String card, String amount, String cat) {
    Map<String, String> values = cat == null
        ? Map.of("card", card, "amount", amount, "shop", "S" + id)
        : Map.of("card", card, "amount", amount, "shop", "S" + id, "m.cat", cat);
    return EventFacts.of(id, time, values, 0, PIPELINE.aggregations());
  }

  private static BatchPlan plan(Position from, Set<String> seen, EventFacts... events) {
    return BatchPlan.of(PIPELINE.aggregations(), from, List.of(events), seen, NOW, MAX_AHEAD);
  }

  private static Map<String, Object> measures(WindowDelta d) {
    return d.value().measures(d.aggregation(), Map.of());
  }

  @Test
  void mergesEventsIntoWindowDeltasAndAdvancesStreamTime() {
    BatchPlan plan = plan(Position.NONE, Set.of(),
        event("1", 10 * H + 1, "C1", "5", null),
        event("2", 10 * H + 2, "C1", "7.5", null),
        event("3", 11 * H, "C2", "1", null));
    assertThat(plan.streamTime()).isEqualTo(11 * H);
    assertThat(plan.applied()).isEqualTo(3);
    WindowDelta c1 = plan.deltas().stream().filter(d -> d.group().equals("C1")).findFirst().orElseThrow();
    assertThat(c1.start()).isEqualTo(10 * H);
    assertThat(c1.count()).isEqualTo(2);
    assertThat(measures(c1)).containsEntry("total", 12.5).containsEntry("mean", 6.25).containsEntry("low", 5.0)
        .containsEntry("high", 7.5).containsEntry("n", 2L);
    assertThat(c1.distinct().get("shops")).containsExactly("S1", "S2");
    assertThat(plan.deltas()).noneMatch(d -> d.aggregation().name().equals("by_cat"));
    assertThat(plan.newIds().values().stream().flatMap(List::stream)).containsExactlyInAnyOrder("1", "2", "3");
  }

  @Test
  void aDeltaAddsExactlyOntoTheStoredWholeValue() {
    WindowValue stored = plan(Position.NONE, Set.of(), event("1", H, "C1", "5", null)).deltas().get(0).value();
    WindowValue delta = plan(Position.NONE, Set.of(), event("2", H + 1, "C1", "2.5", null), event("3", H + 2, "C1", "n/a", null))
        .deltas().get(0).value();
    WindowValue after = stored.plus(delta);
    assertThat(after.measures(BY_CARD, Map.of("shops", 3L))).containsEntry("n", 3L).containsEntry("total", 7.5)
        .containsEntry("low", 2.5).containsEntry("high", 5.0).containsEntry("mean", 3.75).containsEntry("shops", 3L);
    assertThat(stored.count()).isEqualTo(1);
    assertThat(WindowValue.unpack(BY_CARD, after.pack(BY_CARD))).isEqualTo(after);
  }

  @Test
  void skipsIdsDecidedBeforeAndRepeatedInTheBatch() {
    BatchPlan plan = plan(Position.NONE, Set.of("2"),
        event("1", H, "C1", "5", null), event("1", H, "C1", "5", null), event("2", H, "C1", "5", null));
    assertThat(plan.duplicates()).isEqualTo(2);
    assertThat(plan.applied()).isEqualTo(1);
    assertThat(plan.deltas().get(0).count()).isEqualTo(1);
  }

  @Test
  void lateEventsGoToOpenWindowsOnlyAndAreReportedPerAggregation() {
    long st = 11 * H + 5 * 60_000L;
    BatchPlan plan = plan(new Position(10, st), Set.of(),
        event("a", 10 * H + 30 * 60_000L, "C1", "1", "food"),
        event("b", 11 * H + 4 * 60_000L, "C1", "1", "food"));
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
  void anEventLateForEveryAggregationIsRecordedSoItsRetryIsNotDeadLetteredAgain() {
    BatchPlan plan = plan(new Position(10, 20 * H), Set.of(), event("x", H, "C1", "1", "food"));
    assertThat(plan.late().get(0).aggregations()).containsExactly("by_card", "by_cat");
    assertThat(plan.applied()).isZero();
    assertThat(plan.newIds().values().stream().flatMap(List::stream)).containsExactly("x");
    assertThat(plan.streamTime()).isEqualTo(20 * H);
    // Its retry, once the id is stored, is a duplicate: nothing late, nothing applied.
    BatchPlan retry = plan(new Position(11, 20 * H), Set.of("x"), event("x", H, "C1", "1", "food"));
    assertThat(retry.late()).isEmpty();
    assertThat(retry.duplicates()).isEqualTo(1);
  }

  @Test
  void anEventFromTheFutureIsRefusedAndNeverMovesStreamTime() {
    long st = 10 * H;
    BatchPlan plan = plan(new Position(10, st), Set.of(),
        event("ok1", st + 1, "C1", "1", null),
        event("2099", NOW + MAX_AHEAD + 1, "C1", "1", null),
        event("ok2", st + 2, "C1", "2", null));
    assertThat(plan.future()).extracting(EventFacts::id).containsExactly("2099");
    assertThat(plan.streamTime()).isEqualTo(st + 2);
    // The event after it is still counted: stream time did not jump to 2099.
    assertThat(plan.late()).isEmpty();
    assertThat(plan.applied()).isEqualTo(2);
    assertThat(plan.deltas()).hasSize(1);
    assertThat(plan.deltas().get(0).count()).isEqualTo(2);
    assertThat(plan.newIds().values().stream().flatMap(List::stream)).containsExactlyInAnyOrder("ok1", "2099", "ok2");
    // At the bound itself it is not from the future.
    assertThat(plan(new Position(10, st), Set.of(), event("edge", NOW + MAX_AHEAD, "C1", "1", null)).future()).isEmpty();
  }

  @Test
  void anEventFarBehindEveryRetentionIsLate() {
    BatchPlan plan = plan(new Position(10, 500 * H), Set.of(), event("old", 0, "C1", "1", "food"));
    assertThat(plan.late()).hasSize(1);
    assertThat(plan.late().get(0).aggregations()).containsExactly("by_card", "by_cat");
    assertThat(plan.streamTime()).isEqualTo(500 * H);
  }

  @Test
  void nonNumericValuesAreLeftOutOfNumericMeasuresButCounted() {
    BatchPlan plan = plan(Position.NONE, Set.of(), event("1", H, "C1", "n/a", null));
    WindowDelta d = plan.deltas().get(0);
    assertThat(d.count()).isEqualTo(1);
    assertThat(measures(d)).containsEntry("total", 0.0).containsEntry("mean", null).containsEntry("low", null);
  }
}
