package io.tributary.common.kafka;

import io.vertx.core.Context;
import io.vertx.core.Future;
import io.vertx.core.Promise;
import org.apache.kafka.common.KafkaFuture;

/** Bridges Kafka's futures to Vert.x futures completed on the caller's context. */
public final class KafkaFutures {

  private KafkaFutures() {
  }

  public static <T> Future<T> toFuture(Context context, KafkaFuture<T> kafkaFuture) {
    Promise<T> promise = Promise.promise();
    kafkaFuture.whenComplete((value, error) -> context.runOnContext(v -> {
      if (error != null) {
        promise.fail(error);
      } else {
        promise.complete(value);
      }
    }));
    return promise.future();
  }
}
