package io.tributary.common.pipeline;

import static org.assertj.core.api.Assertions.assertThat;

import java.time.Duration;
import org.junit.jupiter.api.Test;

class DurationsTest {

  @Test
  void parsesEveryUnitAndCombinations() {
    assertThat(Durations.parse("250ms")).contains(Duration.ofMillis(250));
    assertThat(Durations.parse("30s")).contains(Duration.ofSeconds(30));
    assertThat(Durations.parse("5m")).contains(Duration.ofMinutes(5));
    assertThat(Durations.parse("1h")).contains(Duration.ofHours(1));
    assertThat(Durations.parse("7d")).contains(Duration.ofDays(7));
    assertThat(Durations.parse("1h30m")).contains(Duration.ofMinutes(90));
  }

  @Test
  void rejectsWhatIsNotADuration() {
    assertThat(Durations.parse("5")).isEmpty();
    assertThat(Durations.parse("5 m")).isEmpty();
    assertThat(Durations.parse("m5")).isEmpty();
    assertThat(Durations.parse("1w")).isEmpty();
    assertThat(Durations.parse("")).isEmpty();
    assertThat(Durations.parse("99999999999999999999d")).isEmpty();
  }

  @Test
  void formatReadsBack() {
    for (String text : new String[] {"250ms", "30s", "5m", "1h", "7d", "1h30m", "1d2h3m4s5ms"}) {
      assertThat(Durations.format(Durations.parse(text).orElseThrow())).isEqualTo(text);
    }
  }
}
