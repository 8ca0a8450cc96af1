package io.tributary.ingest;

import io.tributary.common.ServiceContext;
import io.tributary.common.health.Dependency;
import io.tributary.common.launch.ServiceLauncher;
import io.tributary.common.pipeline.BusRef;
import io.tributary.common.pipeline.Pipeline;
import io.vertx.core.Deployable;
import java.util.ArrayList;
import java.util.EnumSet;
import java.util.List;
import java.util.Set;

/** The ingest stage: validates events from HTTP (and configured sources) and writes them to the ingested bus. */
public final class Main {

  public static final ServiceLauncher.Stage STAGE = new ServiceLauncher.Stage("ingest", Main::dependencies, Main::verticles);

  private Main() {
  }

  public static void main(String[] args) {
    ServiceLauncher.main(STAGE, args);
  }

  static Set<Dependency> dependencies(Pipeline pipeline) {
    Set<Dependency> needs = EnumSet.of(Dependency.KAFKA);
    List<BusRef> buses = new ArrayList<>(List.of(pipeline.buses().ingested(), pipeline.buses().deadLetter()));
    buses.addAll(pipeline.sources());
    if (BusRef.anyRabbitMq(buses)) {
      needs.add(Dependency.RABBITMQ);
    }
    return needs;
  }

  static List<Deployable> verticles(ServiceContext service) {
    return List.of(new IngestVerticle(service));
  }
}
