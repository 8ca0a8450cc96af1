package io.tributary.common.rabbitmq;

import static org.assertj.core.api.Assertions.assertThat;

import io.tributary.common.config.ServiceConfig;
import io.tributary.common.pipeline.BusRef;
import io.tributary.common.pipeline.Pipeline;
import io.tributary.common.pipeline.PipelineParser;
import io.tributary.common.state.Partitions;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.Map;
import org.junit.jupiter.api.Test;

class SuperStreamTest {

  @Test
  void aKeyGoesToThePartitionKafkaGivesIt() {
    SuperStream stream = SuperStream.of(new BusRef(BusRef.Kind.RABBITMQ, "events.ingested"), 8, "7D");
    for (String key : new String[] {"C1", "C42", "card-ünïcode", ""}) {
      assertThat(stream.routingKey(key)).isEqualTo(String.valueOf(Partitions.of(key, 8)));
    }
    assertThat(stream.stream(3)).isEqualTo("events.ingested-3");
    assertThat(SuperStream.positionsTopic(new BusRef(BusRef.Kind.RABBITMQ, "events.ingested"))).isEqualTo("events.ingested.positions");
  }

  @Test
  void onlyTheBusesBetweenStagesAreSuperStreams() throws Exception {
    String demo = Files.readString(Path.of("..", "examples", "payments.yaml"))
        .replace("ingested: kafka:events.ingested", "ingested: rabbitmq:events.ingested")
        .replace("updates:  kafka:aggregates.updates", "updates:  rabbitmq:aggregates.updates");
    Pipeline pipeline = PipelineParser.parse(demo, "payments.yaml");
    ServiceConfig config = ServiceConfig.load("enrich", null, Map.of("TRIBUTARY_KAFKA_PARTITIONS", "4"));
    Map<String, SuperStream> streams = SuperStream.ofPipeline(pipeline, config);
    assertThat(streams).containsOnlyKeys("events.ingested");
    assertThat(streams.get("events.ingested").partitions()).isEqualTo(4);
    assertThat(streams.get("events.ingested").maxAge()).isEqualTo("7D");
  }
}
