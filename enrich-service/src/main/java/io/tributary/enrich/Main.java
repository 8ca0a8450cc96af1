package io.tributary.enrich;

import io.tributary.common.ServiceContext;
import io.tributary.common.health.Dependency;
import io.tributary.common.launch.ServiceLauncher;
import io.tributary.common.pipeline.BusRef;
import io.tributary.common.pipeline.Store;
import io.tributary.common.pipeline.Pipeline;
import io.vertx.core.Deployable;
import java.util.EnumSet;
import java.util.List;
import java.util.Set;

/** The enrich stage: batched reference look-ups and event histories between the ingested and the enriched bus. */
public final class Main {

  public static final ServiceLauncher.Stage STAGE = new ServiceLauncher.Stage("enrich", Main::dependencies, Main::verticles);

  private Main() {
  }

  public static void main(String[] args) {
    ServiceLauncher.main(STAGE, args);
  }

  static Set<Dependency> dependencies(Pipeline pipeline) {
    Set<Dependency> needs = EnumSet.of(Dependency.KAFKA);
    Set<Store> stores = EnumSet.noneOf(Store.class);
    pipeline.lookups().forEach(l -> stores.add(l.store()));
    pipeline.histories().forEach(h -> stores.add(h.store()));
    if (stores.contains(Store.REDIS)) {
      needs.add(Dependency.REDIS);
    }
    if (stores.contains(Store.SQL)) {
      needs.add(Dependency.SQL);
    }
    if (BusRef.anyRabbitMq(List.of(pipeline.buses().ingested(), pipeline.buses().enriched(), pipeline.buses().deadLetter()))) {
      needs.add(Dependency.RABBITMQ);
    }
    return needs;
  }

  static List<Deployable> verticles(ServiceContext service) {
    return List.of(new EnrichVerticle(service));
  }
}
