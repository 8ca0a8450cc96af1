package io.tributary.loadtest;

import static io.gatling.javaapi.core.CoreDsl.constantUsersPerSec;

/**
 * A constant arrival rate: {@code -Drate} requests per second (each a batch of {@code -Dbatch}
 * events) for {@code -Dduration} seconds.
 */
public class IngestConstantRate extends IngestSimulation {
  {
    setUp(postEvents("constant rate").injectOpen(constantUsersPerSec(rate()).during(duration())))
        .protocols(protocol())
        .assertions(assertions());
  }
}
