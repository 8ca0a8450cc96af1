package io.tributary.aggregate;

import io.tributary.common.ServiceContext;
import io.tributary.common.health.Dependency;
import io.tributary.common.launch.ServiceLauncher;
import io.tributary.common.pipeline.BusRef;
import io.tributary.common.pipeline.Pipeline;
import io.tributary.common.pipeline.Store;
import io.vertx.core.Deployable;
import java.util.EnumSet;
import java.util.List;
import java.util.Set;

/** The aggregate stage: exactly-once windowed aggregations with their state in Redis or SQL. */
public final class Main {

  public static final ServiceLauncher.Stage STAGE = new ServiceLauncher.Stage("aggregate", Main::dependencies, Main::verticles);

  private Main() {
  }

  public static void main(String[] args) {
    ServiceLauncher.main(STAGE, args);
  }

  static Set<Dependency> dependencies(Pipeline pipeline) {
    Set<Dependency> needs = EnumSet.of(Dependency.KAFKA, pipeline.store() == Store.SQL ? Dependency.SQL : Dependency.REDIS);
    if (BusRef.anyRabbitMq(List.of(pipeline.buses().enriched(), pipeline.buses().updates(), pipeline.buses().deadLetter()))) {
      needs.add(Dependency.RABBITMQ);
    }
    return needs;
  }

  static List<Deployable> verticles(ServiceContext service) {
    return List.of(new AggregateVerticle(service));
  }
}
