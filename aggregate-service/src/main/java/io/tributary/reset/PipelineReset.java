package io.tributary.reset;

import io.tributary.common.config.ServiceConfig;
import io.tributary.common.kafka.KafkaSettings;
import io.tributary.common.pipeline.BusRef;
import io.tributary.common.pipeline.Pipeline;
import io.tributary.common.pipeline.Store;
import io.tributary.common.rabbitmq.RabbitMqClients;
import io.tributary.common.rabbitmq.SuperStream;
import io.tributary.common.redis.RedisClients;
import io.tributary.common.sql.SqlClients;
import io.tributary.common.sql.SqlPool;
import io.tributary.common.state.RedisStateStore;
import io.tributary.common.state.SqlStateStore;
import io.tributary.enrich.HistoryState;
import io.vertx.core.Future;
import io.vertx.core.Vertx;
import io.vertx.rabbitmq.RabbitMQClient;
import io.vertx.redis.client.Command;
import io.vertx.redis.client.Redis;
import io.vertx.redis.client.Request;
import java.time.Duration;
import java.util.ArrayList;
import java.util.HashMap;
import java.util.LinkedHashSet;
import java.util.List;
import java.util.Map;
import java.util.Set;
import java.util.concurrent.ExecutionException;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.TimeoutException;
import java.util.function.Consumer;
import org.apache.kafka.clients.admin.Admin;
import org.apache.kafka.clients.admin.ConsumerGroupListing;
import org.apache.kafka.common.errors.GroupIdNotFoundException;
import org.apache.kafka.common.errors.UnknownTopicOrPartitionException;

/**
 * Removes everything Tributary keeps for one pipeline, so that it starts over as if new: its buses
 * between and after the stages (never its sources, which are its input) and its consumer groups, its
 * aggregation state with the shape on record, and its histories, in both stores (a pipeline that
 * switched stores left state in the other). Reference data stays: it is input, loaded by hand, and
 * costly to load again. Blocking, one step after the other: a command-line tool, run while none of
 * the pipeline's services runs.
 */
final class PipelineReset {

  private static final Duration STEP = Duration.ofSeconds(60);
  private static final List<String> STAGES = List.of("ingest", "enrich", "aggregate", "fused");

  private final Pipeline pipeline;
  private final ServiceConfig config;
  private final Consumer<String> report;

  PipelineReset(Pipeline pipeline, ServiceConfig config, Consumer<String> report) {
    this.pipeline = pipeline;
    this.config = config;
    this.report = report;
  }

  /** Runs every step; a store the pipeline uses must be reached, the other is cleaned when it answers. */
  void run() throws Exception {
    kafka();
    Vertx vertx = Vertx.vertx();
    try {
      if (!rabbitMqBuses().isEmpty()) {
        rabbitMq(vertx);
      }
      redis(vertx);
      sql(vertx);
    } finally {
      vertx.close().await(10, TimeUnit.SECONDS);
    }
  }

  /** The pipeline's own Kafka topics: its buses on Kafka, and the position topics of its buses on RabbitMQ streams. */
  private List<String> topics() {
    Set<String> topics = new LinkedHashSet<>();
    for (BusRef bus : buses()) {
      topics.add(bus.isKafka() ? bus.target() : SuperStream.positionsTopic(bus));
    }
    pipeline.sources().stream().filter(BusRef::isKafka).map(BusRef::target).forEach(topics::remove);
    return List.copyOf(topics);
  }

  private List<BusRef> buses() {
    return List.of(pipeline.buses().ingested(), pipeline.buses().enriched(), pipeline.buses().updates(), pipeline.buses().deadLetter());
  }

  private List<BusRef> rabbitMqBuses() {
    return buses().stream().filter(b -> !b.isKafka()).toList();
  }

  private void kafka() throws InterruptedException, ExecutionException, TimeoutException {
    Map<String, Object> settings = new HashMap<>(KafkaSettings.admin(config, "tributary-reset-" + pipeline.name()));
    try (Admin admin = Admin.create(settings)) {
      Set<String> existing = admin.listTopics().names().get(STEP.toSeconds(), TimeUnit.SECONDS);
      List<String> doomed = topics().stream().filter(existing::contains).toList();
      if (!doomed.isEmpty()) {
        try {
          admin.deleteTopics(doomed).all().get(STEP.toSeconds(), TimeUnit.SECONDS);
        } catch (ExecutionException e) {
          if (!(e.getCause() instanceof UnknownTopicOrPartitionException)) {
            throw e;
          }
        }
        awaitGone(admin, doomed);
        doomed.forEach(t -> removed("Kafka topic " + t));
      }
      Set<String> groups = new LinkedHashSet<>();
      for (ConsumerGroupListing g : admin.listConsumerGroups().all().get(STEP.toSeconds(), TimeUnit.SECONDS)) {
        groups.add(g.groupId());
      }
      List<String> ours = STAGES.stream().map(pipeline::consumerGroup).filter(groups::contains).toList();
      for (String group : ours) {
        try {
          admin.deleteConsumerGroups(List.of(group)).all().get(STEP.toSeconds(), TimeUnit.SECONDS);
          removed("Kafka consumer group " + group);
        } catch (ExecutionException e) {
          if (!(e.getCause() instanceof GroupIdNotFoundException)) {
            throw new IllegalStateException("cannot delete the consumer group " + group + " (is a service of pipeline '"
                + pipeline.name() + "' still running? stop it first): " + e.getCause().getMessage(), e);
          }
        }
      }
    }
  }

  /** Topic deletion completes in the background: wait until the broker no longer lists them, so a service started next creates them anew. */
  private static void awaitGone(Admin admin, List<String> topics) throws InterruptedException, ExecutionException, TimeoutException {
    long deadline = System.nanoTime() + STEP.toNanos();
    while (System.nanoTime() < deadline) {
      Set<String> left = admin.listTopics().names().get(STEP.toSeconds(), TimeUnit.SECONDS);
      if (topics.stream().noneMatch(left::contains)) {
        return;
      }
      Thread.sleep(200);
    }
    throw new TimeoutException("Kafka still lists the deleted topics " + topics + " after " + STEP.toSeconds() + " s");
  }

  private void rabbitMq(Vertx vertx) throws TimeoutException {
    RabbitMQClient client = RabbitMqClients.createUnrecovered(vertx, config);
    client.start().await(STEP.toSeconds(), TimeUnit.SECONDS);
    try {
      Set<String> superStreams = SuperStream.ofPipeline(pipeline, config).keySet();
      for (BusRef bus : rabbitMqBuses()) {
        if (superStreams.contains(bus.target())) {
          SuperStream stream = SuperStream.of(bus, config);
          for (int p = 0; p < stream.partitions(); p++) {
            client.queueDelete(stream.stream(p)).await(STEP.toSeconds(), TimeUnit.SECONDS);
          }
          removed("RabbitMQ streams " + stream.stream(0) + ".." + stream.stream(stream.partitions() - 1));
        }
        client.exchangeDelete(bus.target()).await(STEP.toSeconds(), TimeUnit.SECONDS);
        removed("RabbitMQ exchange " + bus.target());
      }
    } finally {
      client.stop().await(STEP.toSeconds(), TimeUnit.SECONDS);
    }
  }

  private void redis(Vertx vertx) throws TimeoutException {
    boolean used = pipeline.store() == Store.REDIS || HistoryState.uses(pipeline, Store.REDIS);
    Redis redis = RedisClients.create(vertx, config);
    try {
      if (!reachable(redis.send(Request.cmd(Command.PING)).mapEmpty(), used, "Redis (" + config.get("redis.uri") + ")")) {
        return;
      }
      long state = RedisStateStore.remove(redis, pipeline.name()).await(STEP.toSeconds(), TimeUnit.SECONDS);
      if (state > 0) {
        removed(state + " Redis keys of aggregation state");
      }
      HistoryState.remove(pipeline, redis, null, null).await(STEP.toSeconds(), TimeUnit.SECONDS).forEach(this::removed);
    } finally {
      redis.close();
    }
  }

  private void sql(Vertx vertx) throws TimeoutException {
    boolean used = pipeline.store() == Store.SQL || HistoryState.uses(pipeline, Store.SQL);
    SqlPool sql = SqlClients.create(vertx, config);
    try {
      if (!reachable(sql.get().query("SELECT 1").execute().mapEmpty(), used, "SQL (" + config.get("sql.url") + ")")) {
        return;
      }
      String dialect = config.get("sql.dialect");
      List<String> removed = new ArrayList<>(SqlStateStore.remove(sql, dialect, pipeline.name(), pipeline.aggregations())
          .await(STEP.toSeconds(), TimeUnit.SECONDS));
      removed.addAll(HistoryState.remove(pipeline, null, sql, dialect).await(STEP.toSeconds(), TimeUnit.SECONDS));
      removed.forEach(this::removed);
    } finally {
      sql.close().await(STEP.toSeconds(), TimeUnit.SECONDS);
    }
  }

  private void removed(String what) {
    report.accept("removed " + what);
  }

  /** Whether the store answers; one the pipeline uses must, one it does not use may be absent here. */
  private boolean reachable(Future<Void> ping, boolean used, String what) {
    try {
      ping.await(10, TimeUnit.SECONDS);
      return true;
    } catch (Exception e) {
      if (used) {
        throw new IllegalStateException("cannot reach " + what + ", which pipeline '" + pipeline.name() + "' uses: " + e.getMessage(), e);
      }
      report.accept("skipped " + what + ": not reachable, and pipeline '" + pipeline.name() + "' does not use it");
      return false;
    }
  }
}
