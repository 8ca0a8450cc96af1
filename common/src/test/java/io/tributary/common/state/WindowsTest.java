package io.tributary.common.state;

import static org.assertj.core.api.Assertions.assertThat;

import io.tributary.common.pipeline.WindowSpec;
import java.time.Duration;
import org.junit.jupiter.api.Test;

class WindowsTest {

  private static final WindowSpec HOUR = WindowSpec.tumbling(Duration.ofHours(1));
  private static final WindowSpec HOPPING = WindowSpec.hopping(Duration.ofMinutes(5), Duration.ofMinutes(1));

  @Test
  void tumblingWindowsAreAlignedToTheEpoch() {
    assertThat(Windows.starts(HOUR, 7_200_000L + 5)).containsExactly(7_200_000L);
    assertThat(Windows.starts(HOUR, 7_199_999L)).containsExactly(3_600_000L);
    assertThat(Windows.starts(HOUR, -1)).containsExactly(-3_600_000L);
  }

  @Test
  void anEventFallsInSizeOverAdvanceHoppingWindowsNewestFirst() {
    assertThat(Windows.starts(HOPPING, 600_000L + 30_000)).containsExactly(600_000L, 540_000L, 480_000L, 420_000L, 360_000L);
    assertThat(Windows.starts(HOPPING, 600_000L)).containsExactly(600_000L, 540_000L, 480_000L, 420_000L, 360_000L);
    assertThat(Windows.newestStart(HOPPING, 659_999L)).isEqualTo(600_000L);
  }

  @Test
  void aWindowTakesEventsUntilItsEndPlusTheLateness() {
    assertThat(Windows.open(0, HOUR, 600_000L, 4_199_999L)).isTrue();
    assertThat(Windows.open(0, HOUR, 600_000L, 4_200_000L)).isFalse();
    assertThat(Windows.open(0, HOUR, 0, 3_599_999L)).isTrue();
    assertThat(Windows.open(0, HOUR, 0, 3_600_000L)).isFalse();
  }

  @Test
  void queriesNeverReckonFromBeyondTheWallClockPlusTheAllowedLead() {
    long now = 1_796_083_200_000L;
    long hour = 3_600_000L;
    assertThat(Windows.queryStreamTime(new long[] {now - 5 * hour, now - 6 * hour}, now, hour)).as("a replay of the past").isEqualTo(now - 5 * hour);
    assertThat(Windows.queryStreamTime(new long[] {now + hour / 2, now}, now, hour)).isEqualTo(now + hour / 2);
    assertThat(Windows.queryStreamTime(new long[] {now - hour, Long.MAX_VALUE, now - 2 * hour}, now, hour))
        .as("one partition at the end of time").isEqualTo(now - hour);
    assertThat(Windows.queryStreamTime(new long[] {Long.MAX_VALUE}, now, hour)).as("all of them").isEqualTo(now + hour);
    assertThat(Windows.queryStreamTime(new long[0], now, hour)).as("nothing applied yet").isEqualTo(Long.MIN_VALUE);
  }
}
