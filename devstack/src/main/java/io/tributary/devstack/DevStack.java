package io.tributary.devstack;

import com.rabbitmq.client.Channel;
import com.rabbitmq.client.Connection;
import com.rabbitmq.client.ConnectionFactory;
import java.io.IOException;
import java.io.UncheckedIOException;
import java.net.InetSocketAddress;
import java.net.Socket;
import java.net.URI;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.Comparator;
import java.util.List;
import java.util.Map;
import java.util.concurrent.ConcurrentHashMap;
import java.util.stream.Stream;

/**
 * The servers a test talks to: the devstack Kafka broker (one per test JVM, started on first use)
 * and the local Redis, MariaDB and RabbitMQ. Each local server's address can be overridden with an
 * environment variable; each accessor checks once that its server answers and fails at once, naming
 * the server and the command that starts it, when it does not.
 */
public final class DevStack {

  public static final String START_ALL = "sudo bash deploy/local/services.sh";

  private static final DevStack INSTANCE = new DevStack();

  private final Map<String, Boolean> checked = new ConcurrentHashMap<>();
  private KafkaBroker broker;

  private DevStack() {
  }

  public static DevStack get() {
    return INSTANCE;
  }

  /** The shared broker, started on first call and stopped when the test JVM exits. */
  public synchronized KafkaBroker kafka() {
    if (broker == null) {
      Path dir = createTempDir();
      broker = KafkaBroker.create(dir, 0, false);
      Runtime.getRuntime().addShutdownHook(new Thread(() -> {
        broker.kill();
        deleteRecursively(dir);
      }, "devstack-kafka-stop"));
    }
    return broker.start();
  }

  public String kafkaBootstrapServers() {
    return kafka().bootstrapServers();
  }

  /** Redis URI, {@code DEVSTACK_REDIS_URI} or redis://127.0.0.1:6379. */
  public String redisUri() {
    String uri = setting("DEVSTACK_REDIS_URI", "redis://127.0.0.1:6379");
    requireReachable("Redis", uri, 6379,
        "redis-server --daemonize yes --bind 127.0.0.1 --port 6379 (or " + START_ALL + ")");
    return uri;
  }

  /** JDBC URL of MariaDB (standing in for SingleStore), {@code DEVSTACK_JDBC_URL}. User root, empty password by default. */
  public String jdbcUrl() {
    String url = setting("DEVSTACK_JDBC_URL", "jdbc:mariadb://127.0.0.1:3306/test");
    requireReachable("MariaDB", url.substring("jdbc:".length()), 3306,
        "start-stop-daemon --start --oknodo --background --exec /usr/sbin/mariadbd (or " + START_ALL + ")");
    return url;
  }

  public String jdbcUser() {
    return setting("DEVSTACK_JDBC_USER", "root");
  }

  public String jdbcPassword() {
    return setting("DEVSTACK_JDBC_PASSWORD", "");
  }

  /** RabbitMQ URI, {@code DEVSTACK_RABBITMQ_URI} or amqp://guest:guest@127.0.0.1:5672. */
  public String rabbitMqUri() {
    String uri = setting("DEVSTACK_RABBITMQ_URI", "amqp://guest:guest@127.0.0.1:5672");
    requireReachable("RabbitMQ", uri, 5672, "rabbitmq-server -detached (or " + START_ALL + ")");
    return uri;
  }

  /**
   * Drops what a pipeline left in a SQL store: its window, distinct and history tables and views, and its rows of the shared
   * position, id and outbox tables (through the {@code mariadb} command line, as deleteRedisKeys uses redis-cli).
   */
  public void deleteSqlState(String jdbcUrl, String pipeline) {
    URI uri = URI.create(jdbcUrl.substring("jdbc:".length()));
    String database = uri.getPath().substring(1);
    String safe = pipeline.replaceAll("[^A-Za-z0-9_]", "_");
    String client = "mariadb -h " + uri.getHost() + " -P " + uri.getPort() + " -u" + jdbcUser() + " " + database;
    String command = client + " -N -e \"SELECT CONCAT('DROP ', IF(TABLE_TYPE = 'VIEW', 'VIEW', 'TABLE'), ' IF EXISTS \\`', TABLE_NAME, '\\`;')"
        + " FROM information_schema.TABLES WHERE TABLE_SCHEMA = DATABASE() AND TABLE_NAME REGEXP '^tributary_[wdvh]_" + safe + "_'\" | " + client
        + "; " + client + " -e \"DELETE FROM tributary_position WHERE pipeline = '" + safe + "'; DELETE FROM tributary_seen WHERE pipeline = '"
        + safe + "'; DELETE FROM tributary_outbox WHERE pipeline = '" + safe + "'\" 2>/dev/null";
    run(command);
  }

  /** Drops the database a JDBC URL names (a test's own). */
  public void dropSqlDatabase(String jdbcUrl) {
    URI uri = URI.create(jdbcUrl.substring("jdbc:".length()));
    String database = uri.getPath().substring(1).replaceAll("[^A-Za-z0-9_]", "");
    run("mariadb -h " + uri.getHost() + " -P " + uri.getPort() + " -u" + jdbcUser() + " -e 'DROP DATABASE IF EXISTS `" + database + "`'");
  }

  /** Deletes RabbitMQ queues and exchanges a test declared (best effort: the broker may be down). */
  public void deleteRabbitMq(List<String> queues, List<String> exchanges) {
    ConnectionFactory factory = new ConnectionFactory();
    try {
      factory.setUri(rabbitMqUri());
      try (Connection connection = factory.newConnection("devstack-cleanup"); Channel channel = connection.createChannel()) {
        for (String queue : queues) {
          channel.queueDelete(queue);
        }
        for (String exchange : exchanges) {
          channel.exchangeDelete(exchange);
        }
      }
    } catch (Exception e) {
      System.err.println("devstack: could not delete RabbitMQ queues " + queues + ": " + e.getMessage());
    }
  }

  /**
   * Deletes the keys matching {@code pattern} from the local Redis, so a test leaves no state behind
   * (uses {@code redis-cli}, which comes with redis-server).
   */
  public void deleteRedisKeys(String redisUri, String pattern) {
    URI uri = URI.create(redisUri);
    String command = "redis-cli -h " + uri.getHost() + " -p " + uri.getPort() + " --scan --pattern '" + pattern.replace("'", "")
        + "' | xargs -r -n 500 redis-cli -h " + uri.getHost() + " -p " + uri.getPort() + " unlink > /dev/null";
    run(command);
  }

  private static void run(String command) {
    try {
      Process process = new ProcessBuilder("sh", "-c", command).redirectErrorStream(true).start();
      process.getInputStream().transferTo(java.io.OutputStream.nullOutputStream());
      process.waitFor();
    } catch (IOException e) {
      throw new UncheckedIOException(e);
    } catch (InterruptedException e) {
      Thread.currentThread().interrupt();
    }
  }

  private void requireReachable(String server, String uri, int defaultPort, String startCommand) {
    checked.computeIfAbsent(uri, key -> {
      URI parsed = URI.create(uri);
      String host = parsed.getHost() == null ? "127.0.0.1" : parsed.getHost();
      int port = parsed.getPort() < 0 ? defaultPort : parsed.getPort();
      try (Socket socket = new Socket()) {
        socket.connect(new InetSocketAddress(host, port), 2000);
        return Boolean.TRUE;
      } catch (IOException e) {
        throw new IllegalStateException(server + " is not reachable at " + host + ":" + port + " (" + e.getMessage()
            + "). Start it with: " + startCommand);
      }
    });
  }

  static String setting(String name, String fallback) {
    String value = System.getProperty(name, System.getenv(name));
    return value == null || value.isBlank() ? fallback : value;
  }

  private static Path createTempDir() {
    try {
      return Files.createTempDirectory("devstack-kafka-");
    } catch (IOException e) {
      throw new UncheckedIOException(e);
    }
  }

  static void deleteRecursively(Path dir) {
    try (Stream<Path> paths = Files.walk(dir)) {
      paths.sorted(Comparator.reverseOrder()).forEach(path -> path.toFile().delete());
    } catch (IOException ignored) {
      // best effort at JVM exit
    }
  }
}
