package io.tributary.common.launch;

import io.micrometer.prometheusmetrics.PrometheusConfig;
import io.micrometer.prometheusmetrics.PrometheusMeterRegistry;
import io.tributary.common.ServiceContext;
import io.tributary.common.StageControl;
import io.tributary.common.StageMetrics;
import io.tributary.common.cluster.ClusterNode;
import io.tributary.common.cluster.ClusterSetup;
import io.tributary.common.config.ServiceConfig;
import io.tributary.common.fused.Fusion;
import io.tributary.common.health.Dependency;
import io.tributary.common.health.DependencyChecksVerticle;
import io.tributary.common.health.Readiness;
import io.tributary.common.kafka.KafkaProperties;
import io.tributary.common.logging.LogFields;
import io.tributary.common.pipeline.Pipeline;
import io.tributary.common.pipeline.PipelineException;
import io.tributary.common.pipeline.PipelineParser;
import io.vertx.core.Deployable;
import io.vertx.core.Future;
import io.vertx.core.Vertx;
import io.vertx.core.VertxOptions;
import io.vertx.core.eventbus.EventBusOptions;
import io.vertx.core.json.JsonArray;
import io.vertx.core.json.JsonObject;
import io.vertx.core.spi.cluster.ClusterManager;
import io.vertx.micrometer.MicrometerMetricsFactory;
import io.vertx.micrometer.MicrometerMetricsOptions;
import java.lang.management.ManagementFactory;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Set;
import java.util.concurrent.TimeUnit;
import java.util.function.BiFunction;
import java.util.function.Function;
import java.util.function.Supplier;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * Starts one stage: reads its config and the pipeline file, builds Vert.x with Prometheus metrics
 * (and the control cluster when enabled), deploys the dependency checks and the stage's verticles,
 * and on SIGTERM turns readiness down, drains, then undeploys them in reverse so intake stops first
 * and in-flight work is committed.
 */
public final class ServiceLauncher {

  private static final Logger LOG = LoggerFactory.getLogger(ServiceLauncher.class);

  /** What a service contributes: its stage name, the servers it needs, and its verticles. */
  public record Stage(String name, Function<Pipeline, Set<Dependency>> dependencies,
                      Function<ServiceContext, List<Deployable>> verticles) {
  }

  /** A started service, for tests and for the shutdown hook; {@code stages} holds each stage's context of a fused process. */
  public record Running(Vertx vertx, ServiceContext context, List<ServiceContext> stages) {
    Running(Vertx vertx, ServiceContext context) {
      this(vertx, context, List.of(context));
    }

    public Future<Void> close() {
      long grace = context.config().getLong("shutdown.graceSeconds");
      return vertx.close().eventually(() -> context.cluster().stop()).timeout(grace, TimeUnit.SECONDS);
    }
  }

  private ServiceLauncher() {
  }

  /** The entry point of each service's Main. Exits 2 on a bad config or pipeline file, 1 if it cannot start. */
  public static void main(Stage stage, String[] args) {
    main(stage.name(), args, (config, pipeline) -> () -> start(stage, config, pipeline));
  }

  /**
   * The entry point of the fused process: every stage of {@code chain} (in pipeline order) in one JVM,
   * the buses between them in memory ({@link Fusion}). Exits 2 when the pipeline has no fused shape.
   */
  public static void mainFused(List<Stage> chain, String[] args) {
    main("fused", args, (config, pipeline) -> {
      Fusion fusion = Fusion.of(pipeline);
      return () -> startFused(chain, config, pipeline, fusion);
    });
  }

  /** {@code starter} checks the config and pipeline (refusals exit 2) and gives what starts the service. */
  private static void main(String name, String[] args, BiFunction<ServiceConfig, Pipeline, Supplier<Future<Running>>> starter) {
    System.setProperty("vertx.logger-delegate-factory-class-name", "io.vertx.core.logging.SLF4JLogDelegateFactory");
    // Hazelcast logs before it reads its configuration: through SLF4J from the first line, so JSON logs stay JSON.
    System.setProperty("hazelcast.logging.type", "slf4j");
    Supplier<Future<Running>> start;
    try {
      Arguments arguments = Arguments.parse(args, System::getenv);
      ServiceConfig config = ServiceConfig.load(name, arguments.config());
      KafkaProperties.from(config);
      String logFormat = System.getenv().getOrDefault("TRIBUTARY_LOG_FORMAT", "text");
      if (!LogFields.FORMATS.contains(logFormat)) {
        throw new ServiceConfig.ConfigException("TRIBUTARY_LOG_FORMAT must be one of " + LogFields.FORMATS + ", got '" + logFormat + "'");
      }
      start = starter.apply(config, PipelineParser.parse(arguments.pipeline()));
    } catch (PipelineException | ServiceConfig.ConfigException | IllegalArgumentException e) {
      System.err.println("tributary " + name + "-service: " + e.getMessage());
      LOG.error("cannot start {}: {}", name, e.getMessage().replace("\n", " "));
      System.exit(2);
      return;
    }
    start.get()
        .onSuccess(running -> Runtime.getRuntime().addShutdownHook(new Thread(() -> shutdown(running), "tributary-shutdown")))
        .onFailure(e -> {
          LOG.error("{} service did not start: {}", name, e.toString(), e);
          System.exit(1);
        });
  }

  /**
   * Stops a running service that found it must not go on (a store holding another shape's state):
   * the reason on standard error and in the log, and exit 2, as for a bad pipeline file. The exit
   * runs off the event loop, as the shutdown hook needs it to close Vert.x.
   */
  public static void refuse(String reason) {
    System.err.println("tributary: " + reason);
    LOG.error("refusing to go on: {}", reason);
    Thread exit = new Thread(() -> System.exit(2), "tributary-refusal");
    exit.start();
  }

  public static Future<Running> start(Stage stage, ServiceConfig config, Pipeline pipeline) {
    String instanceId = config.get("instance.id").isBlank() ? defaultInstanceId(stage.name()) : config.get("instance.id");
    PrometheusMeterRegistry registry = new PrometheusMeterRegistry(PrometheusConfig.DEFAULT);
    Vertx vertx = vertx(registry);
    LogFields.identify(pipeline.name(), stage.name(), instanceId);
    LOG.info("starting {} service {} for pipeline '{}' with {} and Kafka client properties {}", stage.name(), instanceId,
        pipeline.name(), config.describe(), KafkaProperties.from(config).describe());
    {
      StageControl control = control(config, stage.name());
      JsonObject identity = identity(stage.name(), pipeline, instanceId);
      ClusterNode node = new ClusterNode(instanceId, stage.name(), pipeline.name(), control, identity::copy);
      StageMetrics metrics = new StageMetrics(registry, stage.name(), pipeline.name());
      ServiceContext context = new ServiceContext(stage.name(), instanceId, config, pipeline, registry,
          metrics, new Readiness(metrics::ready), control, node, Fusion.NONE);
      Future<?> deployed = vertx.deployVerticle(new DependencyChecksVerticle(context, stage.dependencies().apply(pipeline)));
      for (Deployable verticle : stage.verticles().apply(context)) {
        deployed = deployed.compose(id -> vertx.deployVerticle(verticle));
      }
      return deployed
          .map(done -> new Running(vertx, context))
          .onSuccess(r -> {
            LOG.info("{} service ready to serve on port {}", stage.name(), config.get("http.port"));
            joinInBackground(config, pipeline, node);
          })
          .recover(e -> {
            LOG.error("{} service failed to start: {}", stage.name(), e.toString(), e);
            return vertx.close().transform(closed -> Future.failedFuture(e));
          });
    }
  }

  /**
   * Starts a fused process: one Vert.x, one registry, one pause control and one control-cluster member
   * for all stages; each stage keeps its own metrics (tagged with its name), readiness and HTTP port.
   * The stages deploy from the last to the first, so each stage's input exists before the stage
   * before it hands it anything, and the chain's source is read only once all of them run.
   */
  public static Future<Running> startFused(List<Stage> chain, ServiceConfig config, Pipeline pipeline, Fusion fusion) {
    String instanceId = config.get("instance.id").isBlank() ? defaultInstanceId("fused") : config.get("instance.id");
    PrometheusMeterRegistry registry = new PrometheusMeterRegistry(PrometheusConfig.DEFAULT);
    Vertx vertx = vertx(registry);
    LogFields.identify(pipeline.name(), "fused", instanceId);
    LOG.info("starting the fused {} chain {} for pipeline '{}' reading {} with {} and Kafka client properties {}",
        chain.stream().map(Stage::name).toList(), instanceId, pipeline.name(), fusion.source(), config.describe(),
        KafkaProperties.from(config).describe());
    StageControl control = control(config, "the fused chain");
    Map<String, StageControl> parts = new LinkedHashMap<>();
    chain.forEach(stage -> parts.put(stage.name(), control.alongside()));
    JsonObject identity = identity("fused", pipeline, instanceId).put("stages", new JsonArray(List.copyOf(parts.keySet())));
    ClusterNode node = new ClusterNode(instanceId, parts, pipeline.name(), control, identity::copy);
    Map<String, String> ports = Map.of("enrich", config.get("fused.enrichHttpPort"), "aggregate", config.get("fused.aggregateHttpPort"));
    List<ServiceContext> contexts = new ArrayList<>();
    for (Stage stage : chain) {
      ServiceConfig stageConfig = config.with("http.port", ports.getOrDefault(stage.name(), config.get("http.port")));
      StageMetrics metrics = new StageMetrics(registry, stage.name(), pipeline.name());
      contexts.add(new ServiceContext(stage.name(), instanceId + "-" + stage.name(), stageConfig, pipeline, registry, metrics,
          new Readiness(metrics::ready), parts.get(stage.name()), node, fusion));
    }
    Future<?> deployed = Future.succeededFuture();
    for (int i = chain.size() - 1; i >= 0; i--) {
      ServiceContext context = contexts.get(i);
      Stage stage = chain.get(i);
      deployed = deployed.compose(id -> vertx.deployVerticle(new DependencyChecksVerticle(context, stage.dependencies().apply(pipeline))));
      for (Deployable verticle : stage.verticles().apply(context)) {
        deployed = deployed.compose(id -> vertx.deployVerticle(verticle));
      }
    }
    return deployed
        .map(done -> new Running(vertx, contexts.get(0), List.copyOf(contexts)))
        .onSuccess(r -> {
          LOG.info("fused chain ready to serve on ports {}", contexts.stream().map(c -> c.stage() + " " + c.config().get("http.port")).toList());
          joinInBackground(config, pipeline, node);
        })
        .recover(e -> {
          LOG.error("the fused chain failed to start: {}", e.toString(), e);
          return vertx.close().transform(closed -> Future.failedFuture(e));
        });
  }

  private static Vertx vertx(PrometheusMeterRegistry registry) {
    VertxOptions options = new VertxOptions()
        .setMetricsOptions(new MicrometerMetricsOptions().setEnabled(true).setJvmMetricsEnabled(true));
    return Vertx.builder().withMetrics(new MicrometerMetricsFactory(registry)).with(options).build();
  }

  private static StageControl control(ServiceConfig config, String what) {
    StageControl control = new StageControl();
    if (config.getBoolean("control.startPaused")) {
      // Nothing is consumed or accepted until POST /control/resume: reference data can be loaded first.
      control.pause();
      LOG.info("{} starts paused (control.startPaused); resume it with POST /control/resume", what);
    }
    return control;
  }

  private static JsonObject identity(String stage, Pipeline pipeline, String instanceId) {
    return new JsonObject()
        .put("stage", stage)
        .put("pipeline", pipeline.name())
        .put("instance", instanceId)
        .put("version", ServiceContext.VERSION);
  }

  private static void joinInBackground(ServiceConfig config, Pipeline pipeline, ClusterNode node) {
    if (config.getBoolean("cluster.enabled")) {
      // Hazelcast reads its configuration and starts blocking: on a thread of its own, not an event loop.
      Thread join = new Thread(() -> joinControlCluster(config, pipeline, node), "control-cluster-join");
      join.setDaemon(true);
      join.start();
    }
  }

  /**
   * Joins the Hazelcast control cluster in the background, on a small clustered Vert.x of its own:
   * the join takes seconds and the stage serves meanwhile. Control only travels there.
   */
  private static void joinControlCluster(ServiceConfig config, Pipeline pipeline, ClusterNode node) {
    String host = config.get("cluster.host");
    ClusterManager manager = ClusterSetup.clusterManager(config, pipeline.name());
    VertxOptions options = new VertxOptions().setEventLoopPoolSize(1).setWorkerPoolSize(2).setInternalBlockingPoolSize(2)
        .setEventBusOptions(new EventBusOptions().setHost(host).setClusterPublicHost(host));
    node.join(Vertx.builder().with(options).withClusterManager(manager).buildClustered(), manager);
  }

  /**
   * Readiness goes down first and the service keeps serving for {@code shutdown.drainSeconds}, so
   * load balancers stop sending before intake stops; then the verticles stop in reverse order.
   */
  private static void shutdown(Running running) {
    long drain = running.context().config().getLong("shutdown.drainSeconds");
    running.stages().forEach(stage -> stage.readiness().drain());
    if (drain > 0) {
      LOG.info("SIGTERM: {} service answers not ready and drains for {} s", running.context().stage(), drain);
      try {
        Thread.sleep(TimeUnit.SECONDS.toMillis(drain));
      } catch (InterruptedException e) {
        Thread.currentThread().interrupt();
      }
    }
    LOG.info("SIGTERM: stopping {} service", running.context().stage());
    try {
      running.close().toCompletionStage().toCompletableFuture().get();
      LOG.info("{} service stopped cleanly", running.context().stage());
    } catch (Exception e) {
      LOG.warn("{} service did not stop cleanly: {}", running.context().stage(), e.getMessage());
    }
  }

  private static String defaultInstanceId(String stage) {
    String host = System.getenv().getOrDefault("HOSTNAME", "local");
    return stage + "-" + host + "-" + ManagementFactory.getRuntimeMXBean().getPid();
  }

  /** {@code --config FILE --pipeline FILE}, or TRIBUTARY_CONFIG / TRIBUTARY_PIPELINE. */
  public record Arguments(Path config, Path pipeline) {
    public static Arguments parse(String[] args, Function<String, String> env) {
      String config = env.apply("TRIBUTARY_CONFIG");
      String pipeline = env.apply("TRIBUTARY_PIPELINE");
      for (int i = 0; i < args.length; i++) {
        String arg = args[i];
        if ((arg.equals("--config") || arg.equals("--pipeline")) && i + 1 < args.length) {
          if (arg.equals("--config")) {
            config = args[++i];
          } else {
            pipeline = args[++i];
          }
        } else {
          throw new IllegalArgumentException("unknown argument '" + arg + "'; usage: --config FILE --pipeline FILE");
        }
      }
      if (pipeline == null || pipeline.isBlank()) {
        throw new IllegalArgumentException("no pipeline file: pass --pipeline FILE or set TRIBUTARY_PIPELINE");
      }
      return new Arguments(config == null || config.isBlank() ? null : Path.of(config), Path.of(pipeline));
    }
  }
}
