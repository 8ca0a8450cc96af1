package io.tributary.devstack;

import java.io.IOException;
import java.io.UncheckedIOException;
import java.net.InetSocketAddress;
import java.net.Socket;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.TimeUnit;

/**
 * A Redis server of a test's own (the local {@code redis-server} binary on a free port), for tests
 * that stop and restart Redis without disturbing the shared one. With {@code durable} it runs with
 * {@code appendonly yes} and {@code appendfsync always}, so acknowledged writes survive a restart.
 */
public final class RedisServer implements AutoCloseable {

  private final Path dir;
  private final int port;
  private final boolean durable;
  private final TlsFiles tls;
  private final List<String> users;
  private Process process;

  private RedisServer(Path dir, int port, boolean durable, TlsFiles tls, List<String> users) {
    this.dir = dir;
    this.port = port;
    this.durable = durable;
    this.tls = tls;
    this.users = users;
  }

  public static RedisServer create(boolean durable) {
    try {
      return new RedisServer(Files.createTempDirectory("devstack-redis-"), KafkaBroker.freePort(), durable, null, List.of());
    } catch (IOException e) {
      throw new UncheckedIOException(e);
    }
  }

  /**
   * A Redis that only speaks TLS (with {@code tls}'s key and certificate) and only lets in the ACL
   * user {@code user} with {@code password}: the default user is off.
   */
  public static RedisServer createSecured(TlsFiles tls, String user, String password) {
    try {
      return new RedisServer(Files.createTempDirectory("devstack-redis-"), KafkaBroker.freePort(), false, tls,
          List.of(user + " on >" + password + " ~* &* +@all", "default off"));
    } catch (IOException e) {
      throw new UncheckedIOException(e);
    }
  }

  public String uri() {
    return (tls == null ? "redis://" : "rediss://") + "127.0.0.1:" + port;
  }

  public int port() {
    return port;
  }

  public synchronized RedisServer start() {
    if (process != null && process.isAlive()) {
      return this;
    }
    List<String> command = new ArrayList<>(List.of(binary(), "--bind", "127.0.0.1",
        "--dir", dir.toString(), "--save", "", "--daemonize", "no", "--logfile", dir.resolve("redis.log").toString()));
    if (tls == null) {
      command.addAll(List.of("--port", String.valueOf(port)));
    } else {
      command.addAll(List.of("--port", "0", "--tls-port", String.valueOf(port), "--tls-cert-file", tls.certificatePem().toString(),
          "--tls-key-file", tls.privateKeyPem().toString(), "--tls-ca-cert-file", tls.certificatePem().toString(),
          "--tls-auth-clients", "no"));
    }
    for (String user : users) {
      command.add("--user");
      command.addAll(List.of(user.split(" ")));
    }
    if (durable) {
      command.addAll(List.of("--appendonly", "yes", "--appendfsync", "always"));
    } else {
      command.addAll(List.of("--appendonly", "no"));
    }
    try {
      process = new ProcessBuilder(command).redirectErrorStream(true)
          .redirectOutput(dir.resolve("redis.out").toFile()).start();
    } catch (IOException e) {
      throw new IllegalStateException("cannot run redis-server (install it with: apt-get install redis-server, or run "
          + DevStack.START_ALL + "): " + e.getMessage(), e);
    }
    awaitListening(Duration.ofSeconds(20));
    return this;
  }

  /** SIGKILL: Redis gets no chance to write anything more. */
  public synchronized void kill() {
    if (process != null) {
      process.destroyForcibly();
      waitFor();
    }
  }

  public synchronized void stop() {
    if (process != null) {
      process.destroy();
      waitFor();
    }
  }

  @Override
  public void close() {
    kill();
    DevStack.deleteRecursively(dir);
  }

  private void waitFor() {
    try {
      process.waitFor(20, TimeUnit.SECONDS);
    } catch (InterruptedException e) {
      Thread.currentThread().interrupt();
    }
    process = null;
  }

  private void awaitListening(Duration timeout) {
    long deadline = System.nanoTime() + timeout.toNanos();
    while (System.nanoTime() < deadline) {
      if (!process.isAlive()) {
        throw new IllegalStateException("redis-server exited, see " + dir.resolve("redis.log"));
      }
      try (Socket socket = new Socket()) {
        socket.connect(new InetSocketAddress("127.0.0.1", port), 200);
        return;
      } catch (IOException notYet) {
        try {
          Thread.sleep(50);
        } catch (InterruptedException e) {
          Thread.currentThread().interrupt();
          return;
        }
      }
    }
    throw new IllegalStateException("redis-server did not listen on port " + port);
  }

  private static String binary() {
    for (String candidate : new String[] {"/usr/bin/redis-server", "/usr/local/bin/redis-server"}) {
      if (Files.isExecutable(Path.of(candidate))) {
        return candidate;
      }
    }
    return "redis-server";
  }
}
