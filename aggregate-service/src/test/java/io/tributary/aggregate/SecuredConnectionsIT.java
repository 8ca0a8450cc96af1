package io.tributary.aggregate;

import static org.assertj.core.api.Assertions.assertThat;

import io.tributary.common.testing.Harness;
import io.tributary.devstack.KafkaBroker;
import io.tributary.devstack.RedisServer;
import io.tributary.devstack.ServiceProcess;
import io.tributary.devstack.TlsFiles;
import io.vertx.core.json.DecodeException;
import io.vertx.core.json.JsonObject;
import java.net.URI;
import java.net.http.HttpRequest;
import java.net.http.HttpResponse;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.ArrayList;
import java.util.HashMap;
import java.util.List;
import java.util.Map;
import java.util.UUID;
import java.util.concurrent.atomic.AtomicReference;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * The three stages against a Kafka that only lets clients in over SASL_SSL (PLAIN) and a Redis that
 * only speaks TLS to one ACL user, both with a certificate made at test time, configured the way a
 * deployment would: Kafka client properties passed through {@code TRIBUTARY_KAFKA_PROPERTIES_*},
 * secrets from the environment or from files, JSON logs. Events flow from ingest to the aggregate
 * answer; a wrong password leaves a service up and not ready, saying why; no secret reaches a log.
 */
class SecuredConnectionsIT {

  private static final String NAME = "secured" + UUID.randomUUID().toString().substring(0, 8);
  private static final Duration READY = Duration.ofSeconds(90);
  private static final String KAFKA_PASSWORD = "kafka-" + UUID.randomUUID();
  private static final String REDIS_PASSWORD = "redis-" + UUID.randomUUID();

  @TempDir
  static Path dir;

  private static TlsFiles tls;
  private static KafkaBroker kafka;
  private static RedisServer redis;
  private static Path pipeline;
  private static Path logs;
  private static final List<ServiceProcess> started = new ArrayList<>();

  @BeforeAll
  static void start() throws Exception {
    tls = TlsFiles.create(dir.resolve("tls"));
    kafka = KafkaBroker.createSecured(dir.resolve("kafka"), tls, Map.of("tributary", KAFKA_PASSWORD)).start();
    redis = RedisServer.createSecured(tls, "tributary", REDIS_PASSWORD).start();
    pipeline = dir.resolve("pipeline.yaml");
    Files.writeString(pipeline, Harness.demoPipeline(NAME));
    logs = Path.of("target", "secured-logs");
    Files.createDirectories(logs);
  }

  @AfterAll
  static void stop() {
    started.forEach(ServiceProcess::close);
    if (redis != null) {
      redis.close();
    }
    if (kafka != null) {
      kafka.close();
    }
  }

  /** What a deployment sets: Kafka's security through pass-through properties, secrets through files and variables. */
  private static Map<String, String> environment(String kafkaPassword, String redisPassword, String label) throws Exception {
    Path jaas = dir.resolve(label + "-kafka-jaas");
    Files.writeString(jaas, "org.apache.kafka.common.security.plain.PlainLoginModule required username=\"tributary\" password=\""
        + kafkaPassword + "\";\n");
    Path redisPasswordFile = dir.resolve(label + "-redis-password");
    Files.writeString(redisPasswordFile, redisPassword + "\n");
    Map<String, String> env = new HashMap<>();
    env.put("TRIBUTARY_KAFKA_BOOTSTRAP_SERVERS", kafka.securedBootstrapServers());
    env.put("TRIBUTARY_KAFKA_PROPERTIES_SECURITY_PROTOCOL", "SASL_SSL");
    env.put("TRIBUTARY_KAFKA_PROPERTIES_SASL_MECHANISM", "PLAIN");
    env.put("TRIBUTARY_KAFKA_PROPERTIES_SASL_JAAS_CONFIG_FILE", jaas.toString());
    env.put("TRIBUTARY_KAFKA_PROPERTIES_SSL_TRUSTSTORE_LOCATION", tls.trustStore().toString());
    env.put("TRIBUTARY_KAFKA_PROPERTIES_SSL_TRUSTSTORE_TYPE", "PKCS12");
    env.put("TRIBUTARY_KAFKA_PROPERTIES_SSL_TRUSTSTORE_PASSWORD", tls.password());
    env.put("TRIBUTARY_KAFKA_PARTITIONS", "2");
    env.put("TRIBUTARY_REDIS_URI", redis.uri());
    env.put("TRIBUTARY_REDIS_USER", "tributary");
    env.put("TRIBUTARY_REDIS_PASSWORD_FILE", redisPasswordFile.toString());
    env.put("TRIBUTARY_REDIS_TLS_CA_FILE", tls.certificatePem().toString());
    env.put("TRIBUTARY_CONTROL_TOKEN", Harness.TOKEN);
    env.put("TRIBUTARY_HTTP_HOST", "127.0.0.1");
    env.put("TRIBUTARY_SHUTDOWN_GRACE_SECONDS", "5");
    env.put("TRIBUTARY_LOG_FORMAT", "json");
    return env;
  }

  private static ServiceProcess service(String stage, Map<String, String> env, String label) throws Exception {
    ServiceProcess service = new ServiceProcess("io.tributary." + stage + ".Main", List.of("--pipeline", pipeline.toString()), env,
        Harness.freePort(), logs.resolve(NAME + "-" + label + ".log"));
    started.add(service);
    return service;
  }

  @Test
  void everyStageConnectsOverSaslSslAndTlsAndEventsFlowToTheAggregate() throws Exception {
    Map<String, String> env = environment(KAFKA_PASSWORD, REDIS_PASSWORD, "good");
    ServiceProcess ingest = service("ingest", env, "ingest").start(READY);
    ServiceProcess enrich = service("enrich", env, "enrich").start(READY);
    ServiceProcess aggregate = service("aggregate", env, "aggregate").start(READY);

    HttpResponse<String> merchant = Harness.send(Harness.authorized(enrich.url("/reference/merchant/M1"))
        .header("Content-Type", "application/json")
        .PUT(HttpRequest.BodyPublishers.ofString("{\"name\":\"Cafe Lumiere\",\"category\":\"food\",\"country\":\"FR\",\"risk\":\"low\"}")));
    assertThat(merchant.statusCode()).as("reference write over TLS: %s", merchant.body()).isEqualTo(200);

    StringBuilder events = new StringBuilder();
    double total = 0;
    for (int i = 0; i < 20; i++) {
      double amount = 1.25 * (i + 1);
      total += amount;
      events.append("{\"txn_id\":\"s").append(i).append("\",\"card_id\":\"C7\",\"merchant_id\":\"M1\",\"amount\":").append(amount).append("}\n");
    }
    HttpResponse<String> posted = Harness.post(ingest.url("/events"), "application/x-ndjson", events.toString());
    assertThat(posted.statusCode()).as("ingest over SASL_SSL: %s", posted.body()).isEqualTo(202);

    AtomicReference<JsonObject> answer = new AtomicReference<>();
    Harness.await("spend_by_card of C7 to count 20", Duration.ofSeconds(90), () -> {
      try {
        HttpResponse<String> r = Harness.send(HttpRequest.newBuilder(URI.create(aggregate.url("/aggregates/spend_by_card/C7"))).GET());
        if (r.statusCode() != 200) {
          return false;
        }
        answer.set(new JsonObject(r.body()));
        return sum(answer.get(), "count") >= 20;
      } catch (Exception e) {
        return false;
      }
    });
    assertThat(sum(answer.get(), "count")).isEqualTo(20.0);
    assertThat(sum(answer.get(), "total")).isEqualTo(total);

    for (String label : List.of("ingest", "enrich", "aggregate")) {
      List<String> lines = Files.readAllLines(logs.resolve(NAME + "-" + label + ".log"));
      assertThat(lines).as(label + "'s log").isNotEmpty();
      boolean identified = false;
      for (String line : lines) {
        JsonObject entry;
        try {
          entry = new JsonObject(line);
        } catch (DecodeException e) {
          throw new AssertionError(label + "'s log has a line that is not JSON: " + line);
        }
        assertThat(entry.getString("level")).as("level of " + line).isNotBlank();
        assertThat(entry.getString("formattedMessage")).as("message of " + line).isNotNull();
        JsonObject mdc = entry.getJsonObject("mdc");
        if (mdc != null && NAME.equals(mdc.getString("pipeline")) && label.equals(mdc.getString("stage"))
            && mdc.getString("instance") != null && !mdc.getString("instance").isBlank()) {
          identified = true;
        }
      }
      assertThat(identified).as(label + "'s log names its pipeline, stage and instance in the MDC").isTrue();
    }
    assertNoSecretLogged();
  }

  @Test
  void aWrongKafkaPasswordLeavesTheServiceUpAndNotReadySayingWhy() throws Exception {
    ServiceProcess ingest = service("ingest", environment("not-" + KAFKA_PASSWORD, REDIS_PASSWORD, "bad-kafka"), "bad-kafka").startLive(READY);
    JsonObject ready = awaitNotReady(ingest, "kafka");
    assertThat(ready.getJsonObject("checks").getJsonObject("kafka").getString("error")).containsIgnoringCase("authentication failed");
    assertNoSecretLogged();
  }

  @Test
  void aWrongRedisPasswordLeavesTheServiceUpAndNotReadySayingWhy() throws Exception {
    ServiceProcess enrich = service("enrich", environment(KAFKA_PASSWORD, "not-" + REDIS_PASSWORD, "bad-redis"), "bad-redis").startLive(READY);
    JsonObject ready = awaitNotReady(enrich, "redis");
    assertThat(ready.getJsonObject("checks").getJsonObject("redis").getString("error")).contains("WRONGPASS");
    assertThat(ready.getJsonObject("checks").getJsonObject("kafka").getString("status")).isEqualTo("UP");
    assertNoSecretLogged();
  }

  private static JsonObject awaitNotReady(ServiceProcess service, String dependency) throws Exception {
    AtomicReference<HttpResponse<String>> last = new AtomicReference<>();
    Harness.await(dependency + " reported down with a reason", Duration.ofSeconds(60), () -> {
      try {
        HttpResponse<String> r = Harness.send(HttpRequest.newBuilder(URI.create(service.url("/health/ready"))).GET());
        last.set(r);
        JsonObject check = new JsonObject(r.body()).getJsonObject("checks").getJsonObject(dependency);
        return r.statusCode() == 503 && check != null && "DOWN".equals(check.getString("status")) && check.getString("error") != null;
      } catch (Exception e) {
        return false;
      }
    });
    assertThat(service.status("/health/live")).as("still alive").isEqualTo(200);
    return new JsonObject(last.get().body());
  }

  private static void assertNoSecretLogged() throws Exception {
    try (var files = Files.list(logs)) {
      for (Path log : files.filter(p -> p.getFileName().toString().startsWith(NAME)).toList()) {
        String text = Files.readString(log);
        for (String secret : List.of(KAFKA_PASSWORD, REDIS_PASSWORD, tls.password())) {
          assertThat(text).as(log + " holds no secret").doesNotContain(secret);
        }
      }
    }
  }

  private static double sum(JsonObject windows, String measure) {
    double sum = 0;
    for (Object w : windows.getJsonArray("windows")) {
      sum += ((JsonObject) w).getJsonObject("measures").getNumber(measure).doubleValue();
    }
    return sum;
  }
}
