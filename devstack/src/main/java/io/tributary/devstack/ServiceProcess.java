package io.tributary.devstack;

import java.io.IOException;
import java.io.UncheckedIOException;
import java.net.URI;
import java.net.http.HttpClient;
import java.net.http.HttpRequest;
import java.net.http.HttpResponse;
import java.nio.file.Path;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.concurrent.TimeUnit;

/**
 * A service run as its own JVM on the test's classpath, so a test can SIGKILL it mid-stream the way
 * a machine dies, and start a replacement. Output goes to a log file next to the test's reports.
 */
public final class ServiceProcess implements AutoCloseable {

  private static final HttpClient HTTP = HttpClient.newBuilder().connectTimeout(Duration.ofSeconds(1)).build();

  private final String mainClass;
  private final List<String> launch;
  private final List<String> args;
  private final Map<String, String> env;
  private final int port;
  private final Path log;
  /** For a view of another port of a process that serves several (a fused process): that process. */
  private final ServiceProcess owner;
  private Process process;
  private int starts;

  /** A service whose main class is on the test's classpath. */
  public ServiceProcess(String mainClass, List<String> args, Map<String, String> env, int port, Path log) {
    this(mainClass, List.of("-cp", System.getProperty("java.class.path"), mainClass), args, env, port, log);
  }

  /** A service run from its built jar ({@code java -jar}), on a classpath of its own. */
  public static ServiceProcess fromJar(Path jar, List<String> args, Map<String, String> env, int port, Path log) {
    return new ServiceProcess(jar.getFileName().toString(), List.of("-jar", jar.toString()), args, env, port, log);
  }

  /** A main class of a built jar ({@code java -cp JAR MAIN}): the fused process in the aggregate service's jar. */
  public static ServiceProcess fromJar(Path jar, String mainClass, List<String> args, Map<String, String> env, int port, Path log) {
    return new ServiceProcess(mainClass, List.of("-cp", jar.toString(), mainClass), args, env, port, log);
  }

  private ServiceProcess(String name, List<String> launch, List<String> args, Map<String, String> env, int port, Path log) {
    this(name, launch, args, env, port, log, null);
  }

  private ServiceProcess(String name, List<String> launch, List<String> args, Map<String, String> env, int port, Path log,
      ServiceProcess owner) {
    this.mainClass = name;
    this.launch = launch;
    this.args = args;
    this.env = env;
    this.port = port;
    this.log = log;
    this.owner = owner;
  }

  /**
   * The same process as answering on another of its ports (a fused process serves each stage on its
   * own): starting, killing or closing the view does so to this process.
   */
  public ServiceProcess onPort(int otherPort) {
    return new ServiceProcess(mainClass, launch, args, env, otherPort, log, this);
  }

  public int port() {
    return port;
  }

  public String url(String path) {
    return "http://127.0.0.1:" + port + path;
  }

  /** Starts the JVM and waits until /health/ready answers 200. */
  public synchronized ServiceProcess start(Duration readyWithin) {
    if (owner != null) {
      owner.start(readyWithin);
      return this;
    }
    return start(readyWithin, "/health/ready");
  }

  /** Starts the JVM and waits until it serves /health/live, ready or not (a dependency may refuse it). */
  public synchronized ServiceProcess startLive(Duration liveWithin) {
    return start(liveWithin, "/health/live");
  }

  private ServiceProcess start(Duration within, String probe) {
    List<String> command = new ArrayList<>(List.of(Path.of(System.getProperty("java.home"), "bin", "java").toString(),
        "-Xmx512m", "-XX:+UseSerialGC", "-XX:TieredStopAtLevel=1"));
    command.addAll(launch);
    command.addAll(args);
    ProcessBuilder builder = new ProcessBuilder(command).redirectErrorStream(true)
        .redirectOutput(ProcessBuilder.Redirect.appendTo(log.toFile()));
    builder.environment().putAll(env);
    builder.environment().put("TRIBUTARY_HTTP_PORT", String.valueOf(port));
    try {
      process = builder.start();
    } catch (IOException e) {
      throw new UncheckedIOException(e);
    }
    starts++;
    long deadline = System.nanoTime() + within.toNanos();
    while (System.nanoTime() < deadline) {
      if (!process.isAlive()) {
        throw new IllegalStateException(mainClass + " exited with " + process.exitValue() + "; see " + log);
      }
      if (status(probe) == 200) {
        return this;
      }
      sleep(100);
    }
    throw new IllegalStateException(mainClass + " did not answer " + probe + " within " + within + "; see " + log);
  }

  /** SIGKILL: no shutdown hook runs, nothing is flushed or committed. */
  public synchronized void kill() {
    if (owner != null) {
      owner.kill();
      return;
    }
    if (process != null) {
      process.destroyForcibly();
      try {
        process.waitFor(10, TimeUnit.SECONDS);
      } catch (InterruptedException e) {
        Thread.currentThread().interrupt();
      }
    }
  }

  public int starts() {
    return owner != null ? owner.starts() : starts;
  }

  public int status(String path) {
    try {
      return HTTP.send(HttpRequest.newBuilder(URI.create(url(path))).timeout(Duration.ofSeconds(5)).GET().build(),
          HttpResponse.BodyHandlers.discarding()).statusCode();
    } catch (IOException | InterruptedException e) {
      return -1;
    }
  }

  /** SIGTERM without waiting: the service shuts down the way a Kubernetes pod is told to. */
  public synchronized void terminate() {
    if (owner != null) {
      owner.terminate();
      return;
    }
    if (process != null) {
      process.destroy();
    }
  }

  /** The exit code of the JVM, which must have exited. */
  public synchronized int exitValue() {
    return owner != null ? owner.exitValue() : process.exitValue();
  }

  /** Whether the JVM still runs. */
  public synchronized boolean isAlive() {
    return owner != null ? owner.isAlive() : process != null && process.isAlive();
  }

  /** SIGTERM, then SIGKILL if it has not exited within 20 s. */
  @Override
  public synchronized void close() {
    if (owner != null) {
      owner.close();
      return;
    }
    if (process != null && process.isAlive()) {
      process.destroy();
      try {
        if (!process.waitFor(20, TimeUnit.SECONDS)) {
          process.destroyForcibly().waitFor(10, TimeUnit.SECONDS);
        }
      } catch (InterruptedException e) {
        Thread.currentThread().interrupt();
      }
    }
  }

  private static void sleep(long ms) {
    try {
      Thread.sleep(ms);
    } catch (InterruptedException e) {
      Thread.currentThread().interrupt();
    }
  }
}
