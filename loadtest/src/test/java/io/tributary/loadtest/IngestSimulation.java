package io.tributary.loadtest;

import static io.gatling.javaapi.core.CoreDsl.StringBody;
import static io.gatling.javaapi.core.CoreDsl.global;
import static io.gatling.javaapi.core.CoreDsl.scenario;
import static io.gatling.javaapi.http.HttpDsl.http;
import static io.gatling.javaapi.http.HttpDsl.status;

import io.gatling.javaapi.core.Assertion;
import io.gatling.javaapi.core.ScenarioBuilder;
import io.gatling.javaapi.core.Simulation;
import io.gatling.javaapi.http.HttpProtocolBuilder;
import java.util.List;

/**
 * What the ingest simulations share: the target ({@code -Durl=http://127.0.0.1:8080}), one request
 * per virtual user carrying one generated body ({@link SchemaEvents}), and the assertions a user
 * sets: {@code -DmaxErrorPercent=1} (responses other than 202, or 400 for a body of invalid events)
 * and {@code -DmaxP99Ms=1000}.
 */
abstract class IngestSimulation extends Simulation {

  static final SchemaEvents EVENTS = new SchemaEvents();

  static HttpProtocolBuilder protocol() {
    return http.baseUrl(System.getProperty("url", "http://127.0.0.1:8080"))
        .contentTypeHeader(EVENTS.contentType())
        .shareConnections();
  }

  static ScenarioBuilder postEvents(String name) {
    return scenario(name)
        .feed(EVENTS)
        .exec(http("POST /events").post("/events").body(StringBody("#{body}")).check(status().in(202, 400)));
  }

  static List<Assertion> assertions() {
    return List.of(
        global().failedRequests().percent().lte(Double.parseDouble(System.getProperty("maxErrorPercent", "1"))),
        global().responseTime().percentile(99.0).lte(Integer.getInteger("maxP99Ms", 1000)));
  }

  static int rate() {
    return Integer.getInteger("rate", 100);
  }

  static int duration() {
    return Integer.getInteger("duration", 30);
  }
}
