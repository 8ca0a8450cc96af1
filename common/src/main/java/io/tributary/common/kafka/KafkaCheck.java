package io.tributary.common.kafka;

import io.tributary.common.health.DependencyCheck;
import io.vertx.core.Context;
import io.vertx.core.Future;
import org.apache.kafka.clients.admin.Admin;
import org.apache.kafka.clients.admin.DescribeClusterOptions;

/** Kafka answers when the cluster describes itself with at least one broker. */
public final class KafkaCheck implements DependencyCheck {

  private final Context context;
  private final Admin admin;

  public KafkaCheck(Context context, Admin admin) {
    this.context = context;
    this.admin = admin;
  }

  @Override
  public String name() {
    return "kafka";
  }

  @Override
  public Future<Void> check() {
    return KafkaFutures.toFuture(context, admin.describeCluster(new DescribeClusterOptions().timeoutMs(1500)).nodes())
        .compose(nodes -> nodes.isEmpty()
            ? Future.failedFuture("no broker available")
            : Future.<Void>succeededFuture());
  }
}
