package io.tributary.devstack;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import java.io.IOException;
import java.net.InetSocketAddress;
import java.net.Socket;
import java.nio.file.Files;
import java.nio.file.Path;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.extension.ExtendWith;

@ExtendWith(DevStackExtension.class)
class KafkaBrokerTest {

  @Test
  void brokerListensAndSurvivesARestartOnTheSamePort(DevStack stack) throws IOException {
    KafkaBroker broker = stack.kafka();
    assertThat(answers(broker.bootstrapServers())).isTrue();
    broker.kill();
    assertThat(answers(broker.bootstrapServers())).isFalse();
    broker.start();
    assertThat(answers(broker.bootstrapServers())).isTrue();
    assertThat(Files.exists(broker.dataDir().resolve("logs").resolve("meta.properties"))).isTrue();
  }

  @Test
  void unreachableServerFailsNamingItAndItsStartCommand() {
    System.setProperty("DEVSTACK_RABBITMQ_URI", "amqp://guest:guest@127.0.0.1:" + KafkaBroker.freePort());
    try {
      assertThatThrownBy(() -> DevStack.get().rabbitMqUri())
          .hasMessageContaining("RabbitMQ is not reachable")
          .hasMessageContaining("rabbitmq-server");
    } finally {
      System.clearProperty("DEVSTACK_RABBITMQ_URI");
    }
  }

  @Test
  void clusterIdsNeverLookLikeAnOption() {
    for (int i = 0; i < 2000; i++) {
      assertThat(KafkaBroker.newClusterId()).doesNotStartWith("-").hasSize(22);
    }
  }

  private static boolean answers(String hostPort) {
    String[] parts = hostPort.split(":");
    try (Socket socket = new Socket()) {
      socket.connect(new InetSocketAddress(parts[0], Integer.parseInt(parts[1])), 500);
      return true;
    } catch (IOException e) {
      return false;
    }
  }
}
