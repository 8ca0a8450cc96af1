package io.tributary.common.kafka;

import io.micrometer.core.instrument.MeterRegistry;
import io.micrometer.core.instrument.Tag;
import io.micrometer.core.instrument.Tags;
import io.micrometer.core.instrument.binder.kafka.KafkaClientMetrics;
import org.apache.kafka.clients.admin.Admin;
import org.apache.kafka.clients.admin.AdminClient;
import org.apache.kafka.clients.consumer.Consumer;
import org.apache.kafka.clients.producer.Producer;

/**
 * Puts a Kafka client's own metrics (request latency, record rates, buffer use, fetch lag,
 * coordinator state, ...) on /metrics as {@code kafka_*}, tagged with the stage and pipeline, for
 * as long as the client lives: {@link Binding#close()} removes them with the client.
 */
public final class KafkaClientMeters {

  /** Meters nothing: for clients outside a service, such as tools and tests. */
  public static final KafkaClientMeters NONE = new KafkaClientMeters(null, Tags.empty());

  /** The meters of one client. */
  public interface Binding extends AutoCloseable {
    @Override
    void close();
  }

  private final MeterRegistry registry;
  private final Iterable<Tag> tags;

  public KafkaClientMeters(MeterRegistry registry, Iterable<Tag> tags) {
    this.registry = registry;
    this.tags = tags;
  }

  public Binding bind(Producer<?, ?> producer) {
    return registry == null ? () -> { } : bound(new KafkaClientMetrics(producer, tags));
  }

  public Binding bind(Consumer<?, ?> consumer) {
    return registry == null ? () -> { } : bound(new KafkaClientMetrics(consumer, tags));
  }

  public Binding bind(Admin admin) {
    // Admin.create always returns an AdminClient (KafkaAdminClient); the binder takes that type.
    return registry == null || !(admin instanceof AdminClient client) ? () -> { } : bound(new KafkaClientMetrics(client, tags));
  }

  private Binding bound(KafkaClientMetrics metrics) {
    metrics.bindTo(registry);
    return metrics::close;
  }
}
