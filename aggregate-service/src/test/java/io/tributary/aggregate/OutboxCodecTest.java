package io.tributary.aggregate;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import io.tributary.common.bus.BusMessage;
import io.tributary.common.pipeline.Aggregation;
import io.tributary.common.pipeline.BusRef;
import io.tributary.common.pipeline.Pipeline;
import io.tributary.common.pipeline.PipelineParser;
import io.tributary.common.state.OutboxEntry;
import io.tributary.common.state.WindowKey;
import io.tributary.common.state.WindowValue;
import java.io.ByteArrayOutputStream;
import java.io.DataOutputStream;
import java.io.IOException;
import java.nio.charset.StandardCharsets;
import java.util.List;
import java.util.Map;
import org.junit.jupiter.api.Test;

/** The stored form of an outbox entry: what a relay reads back after a crash must be what the batch meant to send. */
class OutboxCodecTest {

  private static final String YAML = """
      pipeline: codec
      schema: {id: id, key: k, fields: {k: string, amount: number}}
      buses: {outputs: [enriched]}
      aggregations:
        - {name: spend, groupBy: [k], window: {tumbling: 1m}, measures: {count: count(), total: sum(amount)}}
      """;

  private final Pipeline pipeline = PipelineParser.parse(YAML, "codec.yaml");
  private final Aggregation spend = pipeline.aggregations().get(0);
  private final BusRef dlq = pipeline.buses().deadLetter();
  private final BusRef enriched = pipeline.buses().enriched();
  private final OutboxCodec codec = new OutboxCodec(pipeline.aggregations(), dlq,
      List.of(pipeline.buses().updates(), dlq, enriched));

  @Test
  void anEntryWithWindowsDeadLettersAndCarriedOutputsReadsBackWhole() {
    WindowValue value = WindowValue.of(spend, 3, new double[] {0, 42.5}, new long[] {0, 3}, new double[] {Double.NaN, Double.NaN}, new double[] {Double.NaN, Double.NaN});
    BusMessage dead = new BusMessage(dlq, "c1", "{\"error\":\"late\"}".getBytes(StandardCharsets.UTF_8), Map.of("stage", "aggregate"));
    BusMessage out = new BusMessage(enriched, "c2", "{\"id\":\"e1\",\"m\":{\"n\":\"Caf\u00e9\"}}".getBytes(StandardCharsets.UTF_8),
        Map.of("tributary-accepted", "1700000000000"), 1_700_000_000_123L);
    RelayEntry entry = new RelayEntry(4, 99, List.of(new RelayEntry.Change(new WindowKey("spend", 60_000, "c2"), value)),
        List.of(out, dead), 1_700_000_000_000L, List.of());

    RelayEntry back = codec.decode(4, new OutboxEntry(99, codec.encode(entry), List.of()));

    assertThat(back.windows()).hasSize(1);
    assertThat(back.windows().get(0).key()).isEqualTo(new WindowKey("spend", 60_000, "c2"));
    assertThat(back.windows().get(0).value()).isEqualTo(value);
    assertThat(back.accepted()).isEqualTo(1_700_000_000_000L);
    assertThat(back.messages()).hasSize(2);
    assertSame(back.messages().get(0), out);
    assertSame(back.messages().get(1), dead);
  }

  @Test
  void anEntryWrittenBeforeOutputsWereCarriedHoldsDeadLettersOnly() throws IOException {
    ByteArrayOutputStream bytes = new ByteArrayOutputStream();
    try (DataOutputStream v1 = new DataOutputStream(bytes)) {
      v1.writeByte(1);
      v1.writeLong(-1);
      v1.writeInt(0);
      v1.writeInt(1);
      writeString(v1, "c9");
      byte[] value = "{\"error\":\"bad\"}".getBytes(StandardCharsets.UTF_8);
      v1.writeInt(value.length);
      v1.write(value);
      v1.writeShort(1);
      writeString(v1, "stage");
      writeString(v1, "ingest");
    }

    RelayEntry back = codec.decode(0, new OutboxEntry(5, bytes.toByteArray(), List.of()));

    assertThat(back.messages()).singleElement().satisfies(m -> {
      assertThat(m.bus()).isEqualTo(dlq);
      assertThat(m.key()).isEqualTo("c9");
      assertThat(m.headers()).containsEntry("stage", "ingest");
      assertThat(m.timestamp()).isEqualTo(-1);
    });
  }

  @Test
  void anEntryForABusThePipelineNoLongerWritesIsRefusedWithItsName() {
    BusMessage out = new BusMessage(enriched, "c2", new byte[] {'{', '}'}, Map.of(), 5);
    byte[] stored = codec.encode(new RelayEntry(1, 10, List.of(), List.of(out), -1, List.of()));
    OutboxCodec withoutEnriched = new OutboxCodec(pipeline.aggregations(), dlq, List.of(pipeline.buses().updates(), dlq));

    assertThatThrownBy(() -> withoutEnriched.decode(1, new OutboxEntry(10, stored, List.of())))
        .hasMessageContaining("kafka:events.enriched").hasMessageContaining("no longer writes");
  }

  @Test
  void aBatchWithNothingToSendStoresNoEntry() {
    assertThat(codec.encode(new RelayEntry(0, 1, List.of(), List.of(), -1, List.of()))).isNull();
  }

  private static void assertSame(BusMessage actual, BusMessage expected) {
    assertThat(actual.bus()).isEqualTo(expected.bus());
    assertThat(actual.key()).isEqualTo(expected.key());
    assertThat(actual.value()).isEqualTo(expected.value());
    assertThat(actual.headers()).isEqualTo(expected.headers());
    assertThat(actual.timestamp()).isEqualTo(expected.timestamp());
  }

  private static void writeString(DataOutputStream out, String value) throws IOException {
    byte[] bytes = value.getBytes(StandardCharsets.UTF_8);
    out.writeInt(bytes.length);
    out.write(bytes);
  }
}
