package io.tributary.enrich;

import static org.assertj.core.api.Assertions.assertThat;

import io.tributary.enrich.CsvRecords.Row;
import io.vertx.core.buffer.Buffer;
import io.vertx.core.parsetools.RecordParser;
import java.nio.charset.StandardCharsets;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.List;
import org.junit.jupiter.api.Test;

class CsvRecordsTest {

  private static final int MAX_RECORD_BYTES = 1 << 20;

  /** What a body reads as: its rows, the records refused ("line N: why"), and the record that stopped it, if any. */
  private static final class Reading {
    final List<Row> rows = new ArrayList<>();
    final List<String> errors = new ArrayList<>();
    CsvRecords.TooLong stop;
  }

  /** Feeds the body in chunks of a few bytes to a RecordParser on "\n", as the bulk load's request body is. */
  private static Reading read(String body, int maxRecordBytes) {
    CsvRecords records = new CsvRecords(maxRecordBytes);
    Reading reading = new Reading();
    RecordParser lines = RecordParser.newDelimited("\n", line -> {
      if (reading.stop != null) {
        return;
      }
      try {
        Row row = records.line(line);
        if (row != null) {
          reading.rows.add(row);
        }
      } catch (CsvRecords.TooLong e) {
        reading.stop = e;
      } catch (CsvRecords.Malformed e) {
        reading.errors.add("line " + e.line() + ": " + e.getMessage());
      }
    });
    byte[] bytes = body.getBytes(StandardCharsets.UTF_8);
    for (int at = 0; at < bytes.length; at += 3) {
      lines.handle(Buffer.buffer(Arrays.copyOfRange(bytes, at, Math.min(bytes.length, at + 3))));
    }
    if (reading.stop == null) {
      try {
        records.end();
      } catch (CsvRecords.Malformed e) {
        reading.errors.add("line " + e.line() + ": " + e.getMessage());
      }
    }
    return reading;
  }

  private static Reading read(String body) {
    return read(body, MAX_RECORD_BYTES);
  }

  @Test
  void aQuotedFieldHoldsALineFeed() {
    Reading reading = read("key,name,category\nM7,\"Cafe\nde la Gare\",food\nM8,Plain,fuel\n");
    assertThat(reading.rows).containsExactly(
        new Row(1, List.of("key", "name", "category")),
        new Row(2, List.of("M7", "Cafe\nde la Gare", "food")),
        new Row(4, List.of("M8", "Plain", "fuel")));
    assertThat(reading.errors).isEmpty();
  }

  @Test
  void crlfEndsARecordAndStaysInsideAQuotedField() {
    Reading reading = read("key,name\r\nM7,\"Cafe\r\nde la Gare\"\r\nM8,x\r\n");
    assertThat(reading.rows).containsExactly(
        new Row(1, List.of("key", "name")),
        new Row(2, List.of("M7", "Cafe\r\nde la Gare")),
        new Row(4, List.of("M8", "x")));
  }

  @Test
  void doubledQuotesAndCommasInQuotes() {
    Reading reading = read("key,name,note\nM1,\"say \"\"hi\"\", ok\",\"a, b\"\n");
    assertThat(reading.rows).element(1).isEqualTo(new Row(2, List.of("M1", "say \"hi\", ok", "a, b")));
  }

  @Test
  void aRecordSpreadOverManyLinesKeepsItsBlankLinesAndStartsOnItsFirstLine() {
    Reading reading = read("key,address\nM1,\"1 Main St\n\nSuite \"\"5\"\"\nSpringfield\"\nM2,x\n");
    assertThat(reading.rows).containsExactly(
        new Row(1, List.of("key", "address")),
        new Row(2, List.of("M1", "1 Main St\n\nSuite \"5\"\nSpringfield")),
        new Row(6, List.of("M2", "x")));
  }

  @Test
  void blankLinesBetweenRecordsAreSkippedAndEmptyCellsKept() {
    Reading reading = read("\nkey,a,b\n\n  \r\nM1,,x\nM2,\"\",\n");
    assertThat(reading.rows).containsExactly(
        new Row(2, List.of("key", "a", "b")),
        new Row(5, List.of("M1", "", "x")),
        new Row(6, List.of("M2", "", "")));
  }

  @Test
  void aStrayQuoteInsideAnUnquotedFieldIsACharacterAndOpensNothing() {
    Reading reading = read("key,size\nM1,5\" screen\nM2,x\n");
    assertThat(reading.rows).containsExactly(
        new Row(1, List.of("key", "size")),
        new Row(2, List.of("M1", "5\" screen")),
        new Row(3, List.of("M2", "x")));
  }

  @Test
  void aRecordWithTheWrongNumberOfColumnsIsRefusedAndTheNextRead() {
    Reading reading = read("key,a\nM1,x,y\nM2,\"z\nw\"\nM3\n");
    assertThat(reading.errors).containsExactly("line 2: has 3 columns, the header has 2", "line 5: has 1 columns, the header has 2");
    assertThat(reading.rows).containsExactly(new Row(1, List.of("key", "a")), new Row(3, List.of("M2", "z\nw")));
  }

  @Test
  void aQuoteLeftOpenAtTheEndIsRefusedOnTheLineItOpensAfterTheRowsBeforeIt() {
    Reading reading = read("key,comment\nCB1,\"fraud, reported\"\nCB2,x\n\"broken\n");
    assertThat(reading.rows).containsExactly(
        new Row(1, List.of("key", "comment")),
        new Row(2, List.of("CB1", "fraud, reported")),
        new Row(3, List.of("CB2", "x")));
    assertThat(reading.errors).singleElement().asString().startsWith("line 4: unterminated quoted field");
  }

  @Test
  void charactersAfterAClosingQuoteOrABareCarriageReturnRefuseTheRecordOnly() {
    Reading reading = read("key,a\nM1,\"a\"b,\"c\nd\"\nM2,a\rb\nM3,\"ok\" \n");
    assertThat(reading.errors).containsExactly(
        "line 2: unexpected character after a quoted field",
        "line 4: a carriage return outside quotes that does not end the line");
    assertThat(reading.rows).containsExactly(new Row(1, List.of("key", "a")), new Row(5, List.of("M3", "ok")));
  }

  @Test
  void aRecordOverTheSizeBoundStopsTheReadNamingItsFirstLine() {
    String tenBytes = "0123456789\n";
    Reading atTheBound = read("key,a\nM1,\"" + tenBytes.repeat(4) + "\"\n", 49);
    assertThat(atTheBound.stop).isNull();
    assertThat(atTheBound.rows).hasSize(2);

    Reading over = read("key,a\nM1,\"" + tenBytes.repeat(5) + "\"\nM2,x\n", 49);
    assertThat(over.stop).isNotNull();
    assertThat(over.stop.line()).isEqualTo(2);
    assertThat(over.stop).hasMessageContaining("longer than 49 bytes");
    assertThat(over.rows).containsExactly(new Row(1, List.of("key", "a")));
  }

  @Test
  void multiByteCharactersSplitAcrossChunksArriveWhole() {
    Reading reading = read("key,name\nM1,\"Café Ñandú, 東京\n🚀\"\n");
    assertThat(reading.rows).element(1).isEqualTo(new Row(2, List.of("M1", "Café Ñandú, 東京\n🚀")));
  }
}
