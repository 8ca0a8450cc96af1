package io.tributary.loadtest;

import static io.gatling.javaapi.core.CoreDsl.rampUsersPerSec;

/** Raises the request rate from 1 to {@code -Drate} per second over {@code -Dduration} seconds, to find where ingest saturates. */
public class IngestRampToSaturation extends IngestSimulation {
  {
    setUp(postEvents("ramp to saturation").injectOpen(rampUsersPerSec(1).to(rate()).during(duration())))
        .protocols(protocol())
        .assertions(assertions());
  }
}
