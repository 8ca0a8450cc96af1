package io.tributary.common.state;

import static org.assertj.core.api.Assertions.assertThat;

import io.tributary.common.pipeline.Aggregation;
import io.tributary.common.pipeline.PipelineParser;
import java.util.List;
import java.util.Map;
import org.junit.jupiter.api.Test;

class WindowStateTest {

  private static final Aggregation AGG = PipelineParser.parse("""
      pipeline: t
      schema: {id: id, key: k, fields: {k: string, x: number}}
      aggregations:
        - name: a
          groupBy: [k]
          window: {tumbling: 1m}
          measures: {n: count(), s: sum(x), lo: min(x), hi: max(x), mean: avg(x), d: distinct(x)}
      """, "t.yaml").aggregations().get(0);

  @Test
  void partialsOfSeveralPartitionsMergeExactly() {
    WindowState merged = WindowState.merge(AGG, "g", 60_000, List.of(
        Map.of("count", "2", "sum:s", "10.5", "n:s", "2", "sum:mean", "10.5", "n:mean", "2", "min:lo", "1", "max:hi", "9.5"),
        Map.of("count", "1", "sum:s", "4", "n:s", "1", "sum:mean", "4", "n:mean", "1", "min:lo", "4", "max:hi", "4")),
        Map.of("d", 3L));
    assertThat(merged.measures()).containsEntry("n", 3L).containsEntry("s", 14.5).containsEntry("lo", 1.0)
        .containsEntry("hi", 9.5).containsEntry("d", 3L);
    assertThat((Double) merged.measures().get("mean")).isCloseTo(14.5 / 3, org.assertj.core.data.Offset.offset(1e-12));
    assertThat(merged.version()).isEqualTo(3);
    assertThat(merged.end()).isEqualTo(120_000);
  }

  @Test
  void withoutAValueCountTheEventCountStandsForIt() {
    WindowState merged = WindowState.merge(AGG, "g", 0, List.of(Map.of("count", "4", "sum:mean", "10")), Map.of());
    assertThat(merged.measures()).containsEntry("mean", 2.5);
  }

  @Test
  void measuresWithoutValuesAreNullNotZero() {
    WindowState merged = WindowState.merge(AGG, "g", 0, List.of(Map.of("count", "1")), Map.of());
    assertThat(merged.measures().get("mean")).isNull();
    assertThat(merged.measures().get("lo")).isNull();
    assertThat(merged.measures()).containsEntry("s", 0.0).containsEntry("d", 0L);
  }
}
