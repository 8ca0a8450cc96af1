package io.tributary.common;

import io.micrometer.prometheusmetrics.PrometheusMeterRegistry;
import io.tributary.common.cluster.ClusterNode;
import io.tributary.common.config.ServiceConfig;
import io.tributary.common.health.Readiness;
import io.tributary.common.pipeline.Pipeline;

/**
 * What every verticle of a service is given: its stage name, configuration, the pipeline, and the
 * shared instruments (metrics, readiness checks, pause/resume control, cluster membership).
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
    ClusterNode cluster) {

  public static final String VERSION = versionOf(ServiceContext.class);

  private static String versionOf(Class<?> type) {
    String version = type.getPackage() == null ? null : type.getPackage().getImplementationVersion();
    return version == null ? "dev" : version;
  }
}
