package io.tributary.enrich;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import org.junit.jupiter.api.Test;

class CsvLineTest {

  @Test
  void splitsPlainAndQuotedFields() throws Exception {
    assertThat(CsvLine.split("a,b,,c")).containsExactly("a", "b", "", "c");
    assertThat(CsvLine.split("\"a, b\",\"say \"\"hi\"\"\",x")).containsExactly("a, b", "say \"hi\"", "x");
    assertThat(CsvLine.split("")).containsExactly("");
    assertThat(CsvLine.split("a,")).containsExactly("a", "");
  }

  @Test
  void rejectsBrokenQuoting() {
    assertThatThrownBy(() -> CsvLine.split("\"open")).hasMessageContaining("unterminated");
    assertThatThrownBy(() -> CsvLine.split("\"a\"b,c")).hasMessageContaining("after a quoted field");
  }
}
