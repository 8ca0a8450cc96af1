package io.tributary.common.kafka;

import io.tributary.common.config.ServiceConfig;
import io.vertx.core.Context;
import io.vertx.core.Future;
import io.vertx.core.Vertx;
import java.util.Collection;
import java.util.List;
import java.util.Set;
import java.util.stream.Collectors;
import org.apache.kafka.clients.admin.Admin;
import org.apache.kafka.clients.admin.NewTopic;
import org.apache.kafka.common.errors.TopicExistsException;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * Creates the topics a service reads and writes when they are missing, with the partition count and
 * replication factor of its config. Kafka may be down when a service starts, so creation is retried
 * in the background with exponential backoff; {@link #ready()} completes once all exist.
 */
public final class Topics {

  private static final Logger LOG = LoggerFactory.getLogger(Topics.class);

  private final Vertx vertx;
  private final Context context;
  private final Admin admin;
  private final int partitions;
  private final short replication;
  private final io.vertx.core.Promise<Void> ready = io.vertx.core.Promise.promise();
  private volatile boolean stopped;

  public Topics(Vertx vertx, Admin admin, ServiceConfig config) {
    this.vertx = vertx;
    this.context = vertx.getOrCreateContext();
    this.admin = admin;
    this.partitions = config.getInt("kafka.partitions");
    this.replication = (short) config.getInt("kafka.replicationFactor");
  }

  /** Starts ensuring {@code names} exist; see {@link #ready()}. */
  public Topics ensure(Collection<String> names) {
    attempt(Set.copyOf(names), 500);
    return this;
  }

  public Future<Void> ready() {
    return ready.future();
  }

  /** A readiness check: the stage is not ready to read or write before its topics exist. */
  public io.tributary.common.health.DependencyCheck check() {
    return new io.tributary.common.health.DependencyCheck() {
      @Override
      public String name() {
        return "topics";
      }

      @Override
      public Future<Void> check() {
        return ready.future().isComplete() ? ready.future() : Future.failedFuture("creating the stage's Kafka topics");
      }
    };
  }

  /** The partition count of {@code topic}, once it exists. */
  public Future<Integer> partitions(String topic) {
    return ready().compose(v -> KafkaFutures.toFuture(context, admin.describeTopics(List.of(topic)).allTopicNames()))
        .map(descriptions -> descriptions.get(topic).partitions().size());
  }

  public void stop() {
    stopped = true;
  }

  private void attempt(Set<String> names, long backoffMs) {
    if (stopped) {
      return;
    }
    KafkaFutures.toFuture(context, admin.listTopics().names())
        .compose(existing -> {
          List<NewTopic> missing = names.stream().filter(n -> !existing.contains(n))
              .map(n -> new NewTopic(n, partitions, replication)).toList();
          if (missing.isEmpty()) {
            return Future.<Void>succeededFuture();
          }
          LOG.info("creating topics {} with {} partitions, replication {}",
              missing.stream().map(NewTopic::name).collect(Collectors.toList()), partitions, replication);
          return KafkaFutures.toFuture(context, admin.createTopics(missing).all())
              .recover(e -> e instanceof TopicExistsException || e.getCause() instanceof TopicExistsException
                  ? Future.succeededFuture() : Future.failedFuture(e));
        })
        .onSuccess(v -> ready.tryComplete())
        .onFailure(e -> {
          long next = Math.min(backoffMs * 2, 10_000);
          LOG.warn("cannot ensure topics {} yet ({}); retrying in {} ms", names, e.getMessage(), backoffMs);
          vertx.setTimer(backoffMs, t -> attempt(names, next));
        });
  }
}
