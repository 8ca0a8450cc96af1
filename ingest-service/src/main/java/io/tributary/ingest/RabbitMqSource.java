package io.tributary.ingest;

import io.tributary.common.ServiceContext;
import io.tributary.common.rabbitmq.RabbitMqClients;
import io.vertx.core.Future;
import io.vertx.core.Vertx;
import io.vertx.rabbitmq.QueueOptions;
import io.vertx.rabbitmq.RabbitMQClient;
import io.vertx.rabbitmq.RabbitMQConsumer;
import io.vertx.rabbitmq.RabbitMQMessage;
import java.util.ArrayList;
import java.util.List;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * Reads events from a durable RabbitMQ queue with manual acknowledgements. Messages are gathered into
 * batches (up to {@value #BATCH} or {@value #LINGER_MS} ms); a batch is acknowledged, with one
 * multiple-ack, only after intake is acknowledged, and requeued when it fails. The prefetch window
 * bounds what is held in memory.
 */
final class RabbitMqSource {

  private static final Logger LOG = LoggerFactory.getLogger(RabbitMqSource.class);
  private static final int BATCH = 500;
  private static final long LINGER_MS = 10;

  private final Vertx vertx;
  private final ServiceContext service;
  private final String queue;
  private final EventIntake intake;
  private final List<RabbitMQMessage> pending = new ArrayList<>();
  private RabbitMQClient client;
  private RabbitMQConsumer consumer;
  private long lingerTimer = -1;
  private boolean flushing;

  RabbitMqSource(Vertx vertx, ServiceContext service, String queue, EventIntake intake) {
    this.vertx = vertx;
    this.service = service;
    this.queue = queue;
    this.intake = intake;
  }

  void start() {
    client = RabbitMqClients.create(vertx, service.config());
    client.addConnectionEstablishedCallback(promise -> client.queueDeclare(queue, true, false, false)
        .compose(ok -> client.basicQos(BATCH * 2))
        .<Void>mapEmpty()
        .onComplete(promise));
    client.start()
        .compose(v -> client.basicConsumer(queue, new QueueOptions().setAutoAck(false).setMaxInternalQueueSize(BATCH * 2)))
        .onSuccess(c -> {
          consumer = c;
          consumer.handler(this::received);
          if (service.control().isPaused()) {
            consumer.pause();
          }
          service.control().onChange(paused -> vertx.runOnContext(v -> {
            if (paused) {
              consumer.pause();
            } else {
              consumer.resume();
            }
          }));
          LOG.info("reading events from RabbitMQ queue '{}'", queue);
        })
        .onFailure(e -> LOG.warn("RabbitMQ source '{}' not started yet: {}", queue, e.getMessage()));
  }

  private void received(RabbitMQMessage message) {
    pending.add(message);
    if (pending.size() >= BATCH) {
      flush();
    } else if (lingerTimer < 0) {
      lingerTimer = vertx.setTimer(LINGER_MS, t -> {
        lingerTimer = -1;
        flush();
      });
    }
  }

  private void flush() {
    if (flushing || pending.isEmpty()) {
      return;
    }
    flushing = true;
    List<RabbitMQMessage> batch = new ArrayList<>(pending);
    pending.clear();
    List<RawEvent> events = batch.stream().map(m -> RequestBodies.single(m.body().getBytes())).toList();
    long lastTag = batch.get(batch.size() - 1).envelope().getDeliveryTag();
    intake.accept(events, "rabbitmq:" + queue)
        .compose(outcome -> client.basicAck(lastTag, true))
        .recover(e -> {
          LOG.warn("batch of {} RabbitMQ messages not acknowledged downstream ({}); requeued", batch.size(), e.getMessage());
          return client.basicNack(lastTag, true, true);
        })
        .onComplete(ar -> {
          flushing = false;
          if (pending.size() >= BATCH) {
            flush();
          } else if (!pending.isEmpty() && lingerTimer < 0) {
            lingerTimer = vertx.setTimer(LINGER_MS, t -> {
              lingerTimer = -1;
              flush();
            });
          }
        });
  }

  Future<Void> stop() {
    Future<Void> cancelled = consumer == null ? Future.succeededFuture() : consumer.cancel();
    return cancelled.recover(e -> Future.succeededFuture()).compose(v -> client == null ? Future.succeededFuture() : client.stop());
  }
}
