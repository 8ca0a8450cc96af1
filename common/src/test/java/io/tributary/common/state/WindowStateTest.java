package io.tributary.common.state;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import io.tributary.common.pipeline.Aggregation;
import io.tributary.common.pipeline.PipelineParser;
import java.util.Map;
import org.assertj.core.data.Offset;
import org.junit.jupiter.api.Test;

class WindowStateTest {

  private static final Aggregation AGG = PipelineParser.parse("""
      pipeline: t
      schema: {id: id, key: k, fields: {k: string, x: number, y: {type: number, required: false}}}
      aggregations:
        - name: a
          groupBy: [k]
          window: {tumbling: 1m}
          measures: {n: count(), s: sum(x), lo: min(x), hi: max(x), mean: avg(y), d: distinct(x)}
      """, "t.yaml").aggregations().get(0);

  private static WindowValue value(String... xy) {
    WindowValue v = WindowValue.empty(AGG);
    for (int i = 0; i < xy.length; i += 2) {
      v.add(AGG, xy[i + 1] == null ? Map.of("x", xy[i]) : Map.of("x", xy[i], "y", xy[i + 1]));
    }
    return v;
  }

  @Test
  void partialsOfSeveralPartitionsMergeExactly() {
    WindowValue merged = value("1", "2", "9.5", null).plus(value("4", "4"));
    WindowState state = WindowState.of(AGG, "g", 60_000, merged, Map.of("d", 3L));
    assertThat(state.measures()).containsEntry("n", 3L).containsEntry("s", 14.5).containsEntry("lo", 1.0)
        .containsEntry("hi", 9.5).containsEntry("d", 3L);
    // avg(y) over the two events that had y: (2 + 4) / 2.
    assertThat((Double) state.measures().get("mean")).isCloseTo(3.0, Offset.offset(1e-12));
    assertThat(state.version()).isEqualTo(3);
    assertThat(state.end()).isEqualTo(120_000);
  }

  @Test
  void thePackedFormRoundTripsAndRecordsValueCountsOnlyWhereTheyDiffer() {
    WindowValue v = value("1", "2", "9.5", null);
    String packed = v.pack(AGG);
    assertThat(packed).isEqualTo("2;" + bits(10.5) + ";" + bits(1.0) + ";" + bits(9.5) + ";" + bits(2.0) + "/1");
    assertThat(WindowValue.unpack(AGG, packed)).isEqualTo(v);
    assertThat(WindowValue.unpack(AGG, WindowValue.empty(AGG).pack(AGG))).isEqualTo(WindowValue.empty(AGG));
    assertThatThrownBy(() -> WindowValue.unpack(AGG, "3;1.0")).isInstanceOf(IllegalArgumentException.class)
        .hasMessageContaining("does not match the measures of a");
  }

  private static String bits(double v) {
    return Long.toHexString(Double.doubleToRawLongBits(v));
  }

  @Test
  void measuresWithoutValuesAreNullNotZero() {
    WindowState state = WindowState.of(AGG, "g", 0, value("n/a", null), Map.of());
    assertThat(state.measures().get("mean")).isNull();
    assertThat(state.measures().get("lo")).isNull();
    assertThat(state.measures()).containsEntry("s", 0.0).containsEntry("d", 0L).containsEntry("n", 1L);
  }
}
