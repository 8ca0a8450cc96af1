package io.tributary.loadtest;

import static io.gatling.javaapi.core.CoreDsl.atOnceUsers;
import static io.gatling.javaapi.core.CoreDsl.constantUsersPerSec;

/**
 * A steady {@code -Drate} per second, a spike of {@code -Dspike} requests at once (default 20 seconds'
 * worth) a third of the way in, then the steady rate again: ingest must shed what it cannot take
 * with 503 + Retry-After and recover.
 */
public class IngestSpike extends IngestSimulation {
  {
    int third = Math.max(1, duration() / 3);
    setUp(postEvents("spike").injectOpen(
            constantUsersPerSec(rate()).during(third),
            atOnceUsers(Integer.getInteger("spike", rate() * 20)),
            constantUsersPerSec(rate()).during(duration() - third)))
        .protocols(protocol())
        .assertions(assertions());
  }
}
