package io.tributary.devstack;

import java.io.IOException;
import java.io.UncheckedIOException;
import java.net.InetSocketAddress;
import java.net.Socket;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.List;
import java.util.concurrent.TimeUnit;

/**
 * A MariaDB server of a test's own: the local {@code mariadbd} on a free port with its own data
 * directory (made by {@code mariadb-install-db}), for tests that kill and restart the SQL store
 * without disturbing the shared one. InnoDB flushes its log at every commit (the default), so a
 * committed transaction survives a SIGKILL. Grant tables are skipped: root without a password.
 */
public final class MariaDbServer implements AutoCloseable {

  private final Path dir;
  private final int port;
  private Process process;

  private MariaDbServer(Path dir, int port) {
    this.dir = dir;
    this.port = port;
  }

  public static MariaDbServer create() {
    try {
      Path dir = Files.createTempDirectory("devstack-mariadb-");
      Process install = new ProcessBuilder("mariadb-install-db", "--no-defaults", "--datadir=" + dir.resolve("data"),
          "--auth-root-authentication-method=normal", "--skip-test-db", "--user=" + System.getProperty("user.name"))
          .redirectErrorStream(true).redirectOutput(dir.resolve("install.log").toFile()).start();
      if (!install.waitFor(120, TimeUnit.SECONDS) || install.exitValue() != 0) {
        throw new IllegalStateException("mariadb-install-db failed, see " + dir.resolve("install.log"));
      }
      return new MariaDbServer(dir, KafkaBroker.freePort());
    } catch (IOException e) {
      throw new IllegalStateException("cannot run mariadb-install-db (install it with: apt-get install mariadb-server, or run "
          + DevStack.START_ALL + "): " + e.getMessage(), e);
    } catch (InterruptedException e) {
      Thread.currentThread().interrupt();
      throw new IllegalStateException(e);
    }
  }

  /** A JDBC URL for database {@code database}, created on first connection. */
  public String jdbcUrl(String database) {
    return "jdbc:mariadb://127.0.0.1:" + port + "/" + database + "?createDatabaseIfNotExist=true";
  }

  public synchronized MariaDbServer start() {
    if (process != null && process.isAlive()) {
      return this;
    }
    try {
      process = new ProcessBuilder(List.of(binary(), "--no-defaults", "--datadir=" + dir.resolve("data"), "--port=" + port,
          "--bind-address=127.0.0.1", "--socket=" + dir.resolve("mysqld.sock"), "--skip-grant-tables", "--skip-log-bin",
          "--innodb-buffer-pool-size=128M", "--user=" + System.getProperty("user.name")))
          .redirectErrorStream(true).redirectOutput(dir.resolve("mariadbd.log").toFile()).start();
    } catch (IOException e) {
      throw new IllegalStateException("cannot run mariadbd: " + e.getMessage(), e);
    }
    awaitListening(Duration.ofSeconds(60));
    return this;
  }

  /** SIGKILL: no clean shutdown, InnoDB recovers from its log at the next start. */
  public synchronized void kill() {
    if (process != null) {
      process.destroyForcibly();
      try {
        process.waitFor(30, TimeUnit.SECONDS);
      } catch (InterruptedException e) {
        Thread.currentThread().interrupt();
      }
      process = null;
    }
  }

  @Override
  public void close() {
    kill();
    DevStack.deleteRecursively(dir);
  }

  private void awaitListening(Duration timeout) {
    long deadline = System.nanoTime() + timeout.toNanos();
    while (System.nanoTime() < deadline) {
      if (!process.isAlive()) {
        throw new IllegalStateException("mariadbd exited, see " + dir.resolve("mariadbd.log"));
      }
      try (Socket socket = new Socket()) {
        socket.connect(new InetSocketAddress("127.0.0.1", port), 200);
        return;
      } catch (IOException notYet) {
        try {
          Thread.sleep(100);
        } catch (InterruptedException e) {
          Thread.currentThread().interrupt();
          return;
        }
      }
    }
    throw new IllegalStateException("mariadbd did not listen on port " + port);
  }

  private static String binary() {
    for (String candidate : new String[] {"/usr/sbin/mariadbd", "/usr/bin/mariadbd", "/usr/sbin/mysqld"}) {
      if (Files.isExecutable(Path.of(candidate))) {
        return candidate;
      }
    }
    return "mariadbd";
  }
}
