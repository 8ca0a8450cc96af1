package io.tributary.common;

import io.micrometer.prometheusmetrics.PrometheusMeterRegistry;
import io.tributary.common.cluster.ClusterNode;
import io.tributary.common.config.ServiceConfig;
import io.tributary.common.fused.Fusion;
import io.tributary.common.health.Readiness;
import io.tributary.common.pipeline.Pipeline;
import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;

/**
 * What every verticle of a service is given: its stage name, configuration, the pipeline, and the
 * shared instruments (metrics, readiness checks, pause/resume control, cluster membership), and
 * which buses the process keeps in memory when it runs the stages fused ({@link Fusion#NONE} otherwise).
 */
public record ServiceContext(
    String stage,
    String instanceId,
    ServiceConfig config,
    Pipeline pipeline,
    PrometheusMeterRegistry registry,
    StageMetrics metrics,
    Readiness readiness,
    StageControl control,
    ClusterNode cluster,
    Fusion fusion) {

  public static final String VERSION = versionOf(ServiceContext.class);

  /**
   * The Kafka transactional id of this instance. It must survive a restart of the instance, so that
   * the replacement fences the old producer and aborts what it left open at once: the configured
   * {@code instance.id}, else the host name and HTTP port (a pod name in Kubernetes).
   */
  public String transactionalId() {
    String configured = config.get("instance.id");
    String stable = configured.isBlank() ? hostName() + "-" + config.get("http.port") : configured;
    return "tributary." + pipeline.name() + "." + stage + "." + stable;
  }

  private static String hostName() {
    String host = System.getenv("HOSTNAME");
    if (host == null || host.isBlank()) {
      try {
        host = Files.readString(Path.of("/proc/sys/kernel/hostname")).strip();
      } catch (IOException | RuntimeException e) {
        host = "local";
      }
    }
    return host;
  }

  private static String versionOf(Class<?> type) {
    String version = type.getPackage() == null ? null : type.getPackage().getImplementationVersion();
    return version == null ? "dev" : version;
  }
}
