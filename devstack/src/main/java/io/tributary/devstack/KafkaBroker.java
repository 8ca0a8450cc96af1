package io.tributary.devstack;

import java.io.IOException;
import java.io.InputStream;
import java.io.UncheckedIOException;
import java.net.InetSocketAddress;
import java.net.ServerSocket;
import java.net.Socket;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.security.SecureRandom;
import java.time.Duration;
import java.util.ArrayList;
import java.util.Base64;
import java.util.List;
import java.util.Map;
import java.util.Properties;
import java.util.concurrent.TimeUnit;

/**
 * A single-node KRaft Kafka broker (combined broker and controller) running in its own JVM, started
 * from Apache Kafka's own jars. The broker keeps its ports and its log directory across
 * {@link #stop()} and {@link #start()}, so a test can take Kafka away and bring the same cluster back.
 */
public final class KafkaBroker implements AutoCloseable {

  private static final String CLASSPATH_RESOURCE = "broker.classpath";

  private final Path dataDir;
  private final int brokerPort;
  private final int controllerPort;
  private final boolean inheritOutput;
  private final Secured secured;
  private Process process;

  /**
   * A second listener, SASL_SSL with the PLAIN mechanism, beside the PLAINTEXT one (which the broker
   * itself and test tooling use): TLS from {@code tls}'s key store, one login per entry of {@code users}.
   */
  public record Secured(int port, TlsFiles tls, Map<String, String> users) {
  }

  private KafkaBroker(Path dataDir, int brokerPort, int controllerPort, boolean inheritOutput, Secured secured) {
    this.dataDir = dataDir;
    this.brokerPort = brokerPort;
    this.controllerPort = controllerPort;
    this.inheritOutput = inheritOutput;
    this.secured = secured;
  }

  /** A broker on the given port (0 picks a free one) with its data under {@code dataDir}. */
  public static KafkaBroker create(Path dataDir, int brokerPort, boolean inheritOutput) {
    int port = brokerPort == 0 ? freePort() : brokerPort;
    return new KafkaBroker(dataDir, port, freePort(), inheritOutput, null);
  }

  /** A broker on free ports that also listens with SASL_SSL for the given users and passwords. */
  public static KafkaBroker createSecured(Path dataDir, TlsFiles tls, Map<String, String> users) {
    return new KafkaBroker(dataDir, freePort(), freePort(), false, new Secured(freePort(), tls, Map.copyOf(users)));
  }

  public String bootstrapServers() {
    return "127.0.0.1:" + brokerPort;
  }

  /** The SASL_SSL listener of a broker made with {@link #createSecured}. */
  public String securedBootstrapServers() {
    if (secured == null) {
      throw new IllegalStateException("this broker has no SASL_SSL listener");
    }
    return "127.0.0.1:" + secured.port();
  }

  public Path dataDir() {
    return dataDir;
  }

  public synchronized boolean isRunning() {
    return process != null && process.isAlive();
  }

  /** Formats the log directory the first time, then starts the broker and waits until it listens. */
  public synchronized KafkaBroker start() {
    if (isRunning()) {
      return this;
    }
    try {
      Files.createDirectories(dataDir);
      Path config = writeConfig();
      if (!Files.exists(dataDir.resolve("logs").resolve("meta.properties"))) {
        format(config);
      }
      process = launch(List.of("kafka.Kafka", config.toString()), dataDir.resolve("broker.out"));
      awaitListening(Duration.ofSeconds(60));
      return this;
    } catch (IOException e) {
      throw new UncheckedIOException(e);
    }
  }

  /** Stops the broker the hard way (SIGKILL), as a crashed machine would. */
  public synchronized void kill() {
    if (process != null) {
      process.destroyForcibly();
      waitForExit();
    }
  }

  /** Stops the broker cleanly (SIGTERM) and waits for it to exit. */
  public synchronized void stop() {
    if (process != null) {
      process.destroy();
      waitForExit();
    }
  }

  @Override
  public void close() {
    stop();
  }

  private void waitForExit() {
    try {
      if (!process.waitFor(30, TimeUnit.SECONDS)) {
        process.destroyForcibly().waitFor(10, TimeUnit.SECONDS);
      }
    } catch (InterruptedException e) {
      Thread.currentThread().interrupt();
    }
    process = null;
  }

  private Path writeConfig() throws IOException {
    Properties props = new Properties();
    props.setProperty("process.roles", "broker,controller");
    props.setProperty("node.id", "1");
    props.setProperty("controller.quorum.voters", "1@127.0.0.1:" + controllerPort);
    props.setProperty("listeners", "PLAINTEXT://127.0.0.1:" + brokerPort + ",CONTROLLER://127.0.0.1:" + controllerPort);
    props.setProperty("advertised.listeners", "PLAINTEXT://127.0.0.1:" + brokerPort);
    props.setProperty("controller.listener.names", "CONTROLLER");
    props.setProperty("inter.broker.listener.name", "PLAINTEXT");
    props.setProperty("listener.security.protocol.map", "PLAINTEXT:PLAINTEXT,CONTROLLER:PLAINTEXT");
    if (secured != null) {
      props.setProperty("listeners", props.getProperty("listeners") + ",SASL_SSL://127.0.0.1:" + secured.port());
      props.setProperty("advertised.listeners", props.getProperty("advertised.listeners") + ",SASL_SSL://127.0.0.1:" + secured.port());
      props.setProperty("listener.security.protocol.map", props.getProperty("listener.security.protocol.map") + ",SASL_SSL:SASL_SSL");
      props.setProperty("sasl.enabled.mechanisms", "PLAIN");
      props.setProperty("listener.name.sasl_ssl.ssl.keystore.location", secured.tls().keyStore().toString());
      props.setProperty("listener.name.sasl_ssl.ssl.keystore.type", "PKCS12");
      props.setProperty("listener.name.sasl_ssl.ssl.keystore.password", secured.tls().password());
      props.setProperty("listener.name.sasl_ssl.ssl.key.password", secured.tls().password());
      StringBuilder jaas = new StringBuilder("org.apache.kafka.common.security.plain.PlainLoginModule required");
      secured.users().forEach((user, password) -> jaas.append(" user_").append(user).append("=\"").append(password).append('"'));
      props.setProperty("listener.name.sasl_ssl.plain.sasl.jaas.config", jaas.append(';').toString());
    }
    props.setProperty("log.dirs", dataDir.resolve("logs").toString());
    props.setProperty("num.partitions", "8");
    props.setProperty("default.replication.factor", "1");
    props.setProperty("offsets.topic.replication.factor", "1");
    props.setProperty("offsets.topic.num.partitions", "8");
    props.setProperty("transaction.state.log.replication.factor", "1");
    props.setProperty("transaction.state.log.min.isr", "1");
    // Tests kill producers mid-transaction: abort a timed-out transaction within a second of its
    // timeout (default: checked every 10 s), so read_committed readers are not held up longer.
    props.setProperty("transaction.abort.timed.out.transaction.cleanup.interval.ms", "1000");
    props.setProperty("share.coordinator.state.topic.replication.factor", "1");
    props.setProperty("share.coordinator.state.topic.min.isr", "1");
    props.setProperty("group.initial.rebalance.delay.ms", "0");
    props.setProperty("auto.create.topics.enable", "false");
    props.setProperty("log.flush.interval.messages", String.valueOf(Long.MAX_VALUE));
    props.setProperty("num.network.threads", "2");
    props.setProperty("num.io.threads", "4");
    Path file = dataDir.resolve("server.properties");
    try (var out = Files.newBufferedWriter(file, StandardCharsets.UTF_8)) {
      props.store(out, "Tributary devstack broker");
    }
    return file;
  }

  private void format(Path config) throws IOException {
    Process formatter = launch(List.of("kafka.tools.StorageTool", "format", "-t", newClusterId(), "-c", config.toString()),
        dataDir.resolve("format.out"));
    try {
      if (!formatter.waitFor(60, TimeUnit.SECONDS) || formatter.exitValue() != 0) {
        String output = Files.exists(dataDir.resolve("format.out")) ? Files.readString(dataDir.resolve("format.out")) : "";
        throw new IllegalStateException("Kafka storage format failed: " + output.strip());
      }
    } catch (InterruptedException e) {
      Thread.currentThread().interrupt();
      throw new IllegalStateException("interrupted while formatting Kafka storage", e);
    }
  }

  private Process launch(List<String> mainAndArgs, Path output) throws IOException {
    List<String> command = new ArrayList<>();
    command.add(Path.of(System.getProperty("java.home"), "bin", "java").toString());
    command.add("-Xms256m");
    command.add("-Xmx1g");
    command.add("-XX:+UseG1GC");
    command.add("-Dorg.slf4j.simpleLogger.defaultLogLevel=warn");
    // The transaction coordinator's loads and marker decisions, to trace a transaction left open.
    command.add("-Dorg.slf4j.simpleLogger.log.kafka.coordinator.transaction=info");
    command.add("-Dorg.slf4j.simpleLogger.showDateTime=true");
    command.add("-cp");
    command.add(brokerClasspath());
    command.addAll(mainAndArgs);
    ProcessBuilder builder = new ProcessBuilder(command).redirectErrorStream(true);
    if (inheritOutput) {
      builder.inheritIO();
    } else {
      // Appended, so that a killed broker's last words outlive its restart.
      builder.redirectOutput(ProcessBuilder.Redirect.appendTo(output.toFile()));
    }
    return builder.start();
  }

  private void awaitListening(Duration timeout) {
    long deadline = System.nanoTime() + timeout.toNanos();
    while (System.nanoTime() < deadline) {
      if (!process.isAlive()) {
        throw new IllegalStateException("Kafka broker exited with " + process.exitValue()
            + ", see " + dataDir.resolve("broker.out"));
      }
      try (Socket socket = new Socket()) {
        socket.connect(new InetSocketAddress("127.0.0.1", brokerPort), 200);
        return;
      } catch (IOException notYet) {
        sleep(100);
      }
    }
    throw new IllegalStateException("Kafka broker did not listen on " + bootstrapServers() + " within " + timeout);
  }

  static String brokerClasspath() {
    try (InputStream in = KafkaBroker.class.getResourceAsStream(CLASSPATH_RESOURCE)) {
      if (in == null) {
        throw new IllegalStateException("devstack was built without " + CLASSPATH_RESOURCE + ": run mvn install first");
      }
      return new String(in.readAllBytes(), StandardCharsets.UTF_8).trim();
    } catch (IOException e) {
      throw new UncheckedIOException(e);
    }
  }

  /** A random Kafka cluster id; never one starting with '-', which the storage tool would read as an option. */
  static String newClusterId() {
    SecureRandom random = new SecureRandom();
    byte[] bytes = new byte[16];
    String id;
    do {
      random.nextBytes(bytes);
      id = Base64.getUrlEncoder().withoutPadding().encodeToString(bytes);
    } while (id.startsWith("-"));
    return id;
  }

  static int freePort() {
    try (ServerSocket socket = new ServerSocket(0, 1, java.net.InetAddress.getLoopbackAddress())) {
      socket.setReuseAddress(true);
      return socket.getLocalPort();
    } catch (IOException e) {
      throw new UncheckedIOException(e);
    }
  }

  private static void sleep(long millis) {
    try {
      Thread.sleep(millis);
    } catch (InterruptedException e) {
      Thread.currentThread().interrupt();
      throw new IllegalStateException("interrupted", e);
    }
  }
}
