package io.tributary.devstack;

import java.nio.file.Path;
import java.util.concurrent.CountDownLatch;

/**
 * Runs the devstack broker in the foreground until interrupted (Ctrl-C), printing its bootstrap address.
 * Options (system properties or environment): {@code KAFKA_PORT} (default 9092), {@code KAFKA_DATA_DIR}
 * (default {@code ./target/kafka}, kept between runs).
 */
public final class KafkaBrokerMain {

  private KafkaBrokerMain() {
  }

  public static void main(String[] args) throws InterruptedException {
    int port = Integer.parseInt(setting("KAFKA_PORT", "9092"));
    Path dataDir = Path.of(setting("KAFKA_DATA_DIR", "target/kafka")).toAbsolutePath();
    KafkaBroker broker = KafkaBroker.create(dataDir, port, false);
    Runtime.getRuntime().addShutdownHook(new Thread(broker::stop, "kafka-broker-stop"));
    broker.start();
    System.out.println("Kafka broker (KRaft, Apache Kafka 4.3.1) ready: bootstrap.servers=" + broker.bootstrapServers());
    System.out.println("Data in " + dataDir + "; broker log in " + dataDir.resolve("broker.out") + ". Ctrl-C stops it.");
    new CountDownLatch(1).await();
  }

  private static String setting(String name, String fallback) {
    String value = System.getProperty(name, System.getenv(name));
    return value == null || value.isBlank() ? fallback : value;
  }
}
