package io.tributary.aggregate;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.fail;
import static org.assertj.core.api.Assertions.within;

import io.tributary.common.state.Partitions;
import io.tributary.common.testing.Harness;
import io.tributary.devstack.DevStack;
import io.tributary.devstack.DevStackExtension;
import io.tributary.devstack.ServiceProcess;
import io.vertx.core.Vertx;
import io.vertx.core.json.DecodeException;
import io.vertx.core.json.Json;
import io.vertx.core.json.JsonArray;
import io.vertx.core.json.JsonObject;
import io.vertx.redis.client.Command;
import io.vertx.redis.client.Redis;
import io.vertx.redis.client.Request;
import java.io.ByteArrayOutputStream;
import java.io.IOException;
import java.io.InputStream;
import java.io.OutputStream;
import java.net.InetSocketAddress;
import java.net.Socket;
import java.net.SocketTimeoutException;
import java.net.URI;
import java.net.URLEncoder;
import java.net.http.HttpRequest;
import java.net.http.HttpResponse;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.Base64;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Locale;
import java.util.Map;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.Executors;
import java.util.concurrent.Future;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicInteger;
import java.util.concurrent.atomic.AtomicReference;
import java.util.stream.Collectors;
import java.util.stream.IntStream;
import java.util.zip.Deflater;
import java.util.zip.GZIPOutputStream;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.DynamicTest;
import org.junit.jupiter.api.MethodOrderer;
import org.junit.jupiter.api.Order;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.TestFactory;
import org.junit.jupiter.api.TestMethodOrder;
import org.junit.jupiter.api.extension.ExtendWith;
import org.junit.jupiter.api.function.Executable;

/**
 * Bad input against the three services of the demo pipeline ({@code examples/payments.yaml} under a
 * name of this run, Redis store), each a JVM of its own: every class of bad input gets its exact
 * status and a JSON answer with its reason ({@code {"error": "..."}}, or the per-event answer of a
 * batch with valid events in it), and every service is still ready after each. Valid events sent
 * afterwards are accepted, counted and queryable with the right count and total.
 */
@ExtendWith(DevStackExtension.class)
@TestMethodOrder(MethodOrderer.OrderAnnotation.class)
class BadInputIT {

  private static final Duration READY = Duration.ofSeconds(120);
  private static final int BODY_LIMIT = 1 << 20;
  private static final int MAX_IN_FLIGHT = 4;
  private static final String JSON = "application/json";
  private static final String NDJSON = "application/x-ndjson";
  private static final String RANGE = "from -1e15 to 1e15";
  private static final String RUN = Long.toString(System.nanoTime() % 1_000_000_000L, 36);
  private static final String NAME = "bad_input_" + RUN;
  /** Cards of this run: companions of bad events, and bad events themselves (whatever becomes of them is not counted). */
  private static final String PAD = "BI-" + RUN + "-pad";
  private static final String BAD = "BI-" + RUN + "-bad";
  private static final AtomicInteger IDS = new AtomicInteger();

  private static DevStack devstack;
  private static ServiceProcess ingest;
  private static ServiceProcess enrich;
  private static ServiceProcess aggregate;
  private static List<ServiceProcess> all = List.of();

  @BeforeAll
  static void start(DevStack stack) throws Exception {
    devstack = stack;
    Path pipeline = Files.createTempFile(NAME, ".yaml");
    Files.writeString(pipeline, Harness.demoPipeline(NAME));
    Path logs = Path.of("target", "bad-input-logs");
    Files.createDirectories(logs);
    Map<String, String> env = Map.of(
        "TRIBUTARY_KAFKA_BOOTSTRAP_SERVERS", stack.kafkaBootstrapServers(),
        "TRIBUTARY_REDIS_URI", stack.redisUri(),
        "TRIBUTARY_CONTROL_TOKEN", Harness.TOKEN,
        "TRIBUTARY_HTTP_HOST", "127.0.0.1",
        "TRIBUTARY_HTTP_BODY_LIMIT_BYTES", String.valueOf(BODY_LIMIT),
        "TRIBUTARY_HTTP_MAX_IN_FLIGHT_REQUESTS", String.valueOf(MAX_IN_FLIGHT),
        "TRIBUTARY_KAFKA_PARTITIONS", "2",
        "TRIBUTARY_SHUTDOWN_GRACE_SECONDS", "5");
    List<String> args = List.of("--pipeline", pipeline.toString());
    ingest = new ServiceProcess("io.tributary.ingest.Main", args, env, Harness.freePort(), logs.resolve(NAME + "-ingest.log"));
    enrich = new ServiceProcess("io.tributary.enrich.Main", args, env, Harness.freePort(), logs.resolve(NAME + "-enrich.log"));
    aggregate = new ServiceProcess("io.tributary.aggregate.Main", args, env, Harness.freePort(), logs.resolve(NAME + "-aggregate.log"));
    all = List.of(ingest, enrich, aggregate);
    for (ServiceProcess service : all) {
      service.start(READY);
    }
    Reply merchant = send(Harness.authorized(enrich.url("/reference/merchant/M1")).header("Content-Type", JSON)
        .PUT(HttpRequest.BodyPublishers.ofString("{\"name\":\"Cafe Lumiere\",\"category\":\"food\",\"country\":\"FR\",\"risk\":\"low\"}")));
    assertThat(merchant.status()).as("loading merchant M1: %s", merchant).isEqualTo(200);
  }

  @AfterAll
  static void stop() {
    all.forEach(ServiceProcess::close);
    if (devstack != null) {
      devstack.deleteRedisKeys(devstack.redisUri(), "tributary:" + NAME + ":*");
    }
  }

  /** The demo pipeline, renamed for this run and with topics of its own (everything else as in examples/payments.yaml). */
  // ------------------------------------------------------------------------------------------------
  // The classes of bad input
  // ------------------------------------------------------------------------------------------------

  @TestFactory
  @Order(1)
  List<DynamicTest> eachClassOfBadInputGetsItsStatusAndAJsonReasonAndLeavesEveryServiceReady() {
    List<DynamicTest> tests = new ArrayList<>();
    bodies(tests);
    encodings(tests);
    contentTypes(tests);
    sizesAndFraming(tests);
    tokens(tests);
    namesRangesAndMethods(tests);
    storedLiterally(tests);
    numbers(tests);
    keysAndIds(tests);
    utf8(tests);
    times(tests);
    tests.add(named("bursts: more concurrent POST /events than http.maxInFlightRequests → some 503 + Retry-After + JSON, "
        + "none but 202/503", BadInputIT::burst));
    return tests;
  }

  private static void bodies(List<DynamicTest> tests) {
    add(tests, "bodies: empty body as application/json → 400", () -> assertError(post(JSON, new byte[0]), 400, "empty"));
    add(tests, "bodies: empty body as application/x-ndjson → 400", () -> assertError(post(NDJSON, new byte[0]), 400, "empty"));
    add(tests, "bodies: whitespace-only body → 400", () -> assertError(post(NDJSON, bytes(" \r\n\t\n ")), 400));
    add(tests, "bodies: not JSON at all → 400", () -> assertError(post(JSON, bytes("hello, this is not JSON")), 400));
    add(tests, "bodies: a truncated JSON object → 400", () -> assertError(post(JSON, bytes("{\"txn_id\":\"t\",\"card_id\":")), 400));
    add(tests, "bodies: a JSON scalar (42) → 400", () -> assertError(post(JSON, bytes("42")), 400));
    add(tests, "bodies: a JSON array of non-objects → 400", () -> assertError(post(JSON, bytes("[1,\"two\",null,[3],true]")), 400));
    add(tests, "bodies: an empty JSON array → 400", () -> assertError(post(JSON, bytes("[]")), 400));
    add(tests, "bodies: 100k-deep array nesting → 400", () ->
        assertError(post(JSON, bytes("[".repeat(100_000) + "]".repeat(100_000))), 400));
    add(tests, "bodies: NDJSON with one bad line among good ones → 202, that index rejected", () ->
        assertBatch(post(NDJSON, lines(good(), "{broken", good(), good())), 3, 1));
    add(tests, "bodies: JSON array with one non-object among objects → 202, that index rejected", () ->
        assertBatch(post(JSON, bytes("[" + good() + ",7," + good() + "]")), 2, 1));
    add(tests, "bodies: 100k-deep object nesting in one NDJSON line → 202, that line rejected", () -> {
      String deep = "{\"txn_id\":" + q(id()) + ",\"card_id\":" + q(BAD) + ",\"merchant_id\":\"M1\",\"amount\":1,\"deep\":"
          + "{\"a\":".repeat(100_000) + "1" + "}".repeat(100_000) + "}";
      assertBatch(post(NDJSON, lines(good(), deep, good())), 2, 1);
    });
    add(tests, "bodies: an event with a duplicated field → 202, that event rejected", () ->
        rejectedAmongGood("{\"txn_id\":" + q(id()) + ",\"card_id\":" + q(BAD) + ",\"card_id\":\"other\",\"merchant_id\":\"M1\",\"amount\":1}"));
    add(tests, "bodies: an NDJSON line with content after its object → 202, that line rejected", () ->
        rejectedAmongGood(bad("amount", "1") + " " + bad("amount", "2")));
  }

  private static void encodings(List<DynamicTest> tests) {
    add(tests, "encodings: Content-Encoding gzip with a valid gzip body → 202", () ->
        assertAllAccepted(postEncoded(NDJSON, "gzip", gzip(lines(good(), good()))), 2));
    add(tests, "encodings: Content-Encoding deflate with a valid zlib body → 202", () ->
        assertAllAccepted(postEncoded(NDJSON, "deflate", deflate(lines(good(), good(), good()))), 3));
    add(tests, "encodings: Content-Encoding identity → 202", () ->
        assertAllAccepted(postEncoded(NDJSON, "identity", lines(good())), 1));
    add(tests, "encodings: Content-Encoding gzip but the body is not gzip → 400", () ->
        assertError(postEncoded(NDJSON, "gzip", lines(good(), good())), 400));
    add(tests, "encodings: Content-Encoding gzip with the stream cut in half → 400", () -> {
      byte[] whole = gzip(bytes("[" + IntStream.range(0, 200).mapToObj(i -> good()).collect(Collectors.joining(",")) + "]"));
      assertError(postEncoded(JSON, "gzip", Arrays.copyOf(whole, whole.length / 2)), 400);
    });
    add(tests, "encodings: Content-Encoding br → 415", () -> assertError(postEncoded(NDJSON, "br", lines(good())), 415));
    add(tests, "encodings: Content-Encoding compress → 415", () -> assertError(postEncoded(NDJSON, "compress", lines(good())), 415));
    add(tests, "encodings: gzip bomb decompressing beyond http.bodyLimitBytes → 413", () -> {
      byte[] bomb = gzip(new byte[8 * BODY_LIMIT]);
      assertThat(bomb.length).isLessThan(BODY_LIMIT / 16);
      assertError(postEncoded(NDJSON, "gzip", bomb), 413);
    });
  }

  private static void contentTypes(List<DynamicTest> tests) {
    add(tests, "content types: text/plain → 415", () -> assertError(post("text/plain", lines(good())), 415));
    add(tests, "content types: application/xml → 415", () -> assertError(post("application/xml", bytes("<event/>")), 415));
    add(tests, "content types: no Content-Type → 415", () -> assertError(post(null, lines(good())), 415));
  }

  private static void sizesAndFraming(List<DynamicTest> tests) {
    add(tests, "sizes: a body over http.bodyLimitBytes → 413", () -> {
      String big = "{\"txn_id\":" + q(id()) + ",\"card_id\":" + q(BAD) + ",\"amount\":1,\"pad\":\"" + "x".repeat(BODY_LIMIT + 1024) + "\"}";
      assertError(send(HttpRequest.newBuilder(URI.create(ingest.url("/events"))).header("Content-Type", JSON)
          .POST(HttpRequest.BodyPublishers.ofString(big))), 413);
    });
    add(tests, "sizes: PUT /reference/merchant/<key> with a body over http.bodyLimitBytes (enrich) → 413", () ->
        assertError(send(Harness.authorized(enrich.url("/reference/merchant/BI-" + RUN + "-big")).header("Content-Type", JSON)
            .PUT(HttpRequest.BodyPublishers.ofString("{\"name\":\"" + "x".repeat(BODY_LIMIT + 1024) + "\"}"))), 413));
    for (ServiceProcess service : List.of(ingest, enrich, aggregate)) {
      String stage = stage(service);
      add(tests, "sizes: a URI of 10,000 characters (" + stage + ") → 414", () ->
          assertError(raw(service, "GET", "/health/live?q=" + "a".repeat(10_000 - "/health/live?q=".length()), null), 414));
      add(tests, "sizes: 20 KB of headers (" + stage + ") → 431", () -> {
        List<String> headers = new ArrayList<>();
        for (int i = 0; i < 20; i++) {
          headers.add("X-Pad-" + i);
          headers.add("p".repeat(1024));
        }
        assertError(raw(service, "GET", "/health/live", null, headers.toArray(String[]::new)), 431);
      });
    }
    add(tests, "framing: a request line that is not HTTP → 400", () ->
        assertError(single(exchange(ingest, bytes("THIS IS NOT HTTP\r\nHost: 127.0.0.1\r\n\r\n"))), 400));
    add(tests, "framing: Content-Length that is not a number → 400", () ->
        assertError(single(exchange(ingest, bytes("POST /events HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Type: application/json\r\n"
            + "Content-Length: abc\r\nConnection: close\r\n\r\n{}"))), 400));
  }

  private static void tokens(List<DynamicTest> tests) {
    for (ServiceProcess service : List.of(ingest, enrich, aggregate)) {
      String stage = stage(service);
      add(tests, "tokens: POST /control/pause without a token (" + stage + ") → 401", () -> pauseRefused(service, null));
      add(tests, "tokens: POST /control/pause with a wrong token (" + stage + ") → 401", () -> pauseRefused(service, "Bearer not-the-token"));
      add(tests, "tokens: POST /control/pause with 'Bearer' and no value (" + stage + ") → 401", () -> pauseRefused(service, "Bearer"));
    }
    add(tests, "tokens: POST /control/pause with a Basic credential holding the token (ingest) → 401", () ->
        pauseRefused(ingest, "Basic " + Base64.getEncoder().encodeToString(("x:" + Harness.TOKEN).getBytes(StandardCharsets.UTF_8))));
    add(tests, "tokens: POST /control/pause with the token followed by more words (aggregate) → 401", () ->
        pauseRefused(aggregate, "Bearer " + Harness.TOKEN + " and more"));
    add(tests, "tokens: PUT /reference/merchant/<key> without a token (enrich) → 401", () ->
        assertError(send(HttpRequest.newBuilder(URI.create(enrich.url("/reference/merchant/BI-" + RUN + "-x"))).header("Content-Type", JSON)
            .PUT(HttpRequest.BodyPublishers.ofString("{\"name\":\"x\"}"))), 401));
    // BearerAuth compares the scheme case-insensitively (RFC 7235: auth schemes are case-insensitive), so this one is accepted.
    add(tests, "tokens: lowercase 'bearer <token>' on GET /control/status (enrich) → 200, the scheme is case-insensitive", () -> {
      Reply r = send(HttpRequest.newBuilder(URI.create(enrich.url("/control/status"))).header("Authorization", "bearer " + Harness.TOKEN).GET());
      assertThat(r.status()).as("%s", r).isEqualTo(200);
      assertJsonType(r);
    });
  }

  private static void namesRangesAndMethods(List<DynamicTest> tests) {
    add(tests, "names: GET /aggregates/no_such_aggregation/x → 404", () ->
        assertError(get(aggregate, "/aggregates/no_such_aggregation/x"), 404));
    add(tests, "names: GET /aggregates/no_such_aggregation?top=5 → 404", () ->
        assertError(get(aggregate, "/aggregates/no_such_aggregation?top=5"), 404));
    add(tests, "names: PUT /reference/no_such_lookup/x with the token (enrich) → 404", () ->
        assertError(send(Harness.authorized(enrich.url("/reference/no_such_lookup/x")).header("Content-Type", JSON)
            .PUT(HttpRequest.BodyPublishers.ofString("{\"name\":\"x\"}"))), 404));
    add(tests, "reference data: PUT /reference/merchant/<key> with a body that is not JSON (enrich) → 400", () ->
        assertError(send(Harness.authorized(enrich.url("/reference/merchant/BI-" + RUN + "-nj")).header("Content-Type", JSON)
            .PUT(HttpRequest.BodyPublishers.ofString("name=x"))), 400));
    add(tests, "reference data: PUT /reference/merchant/<key> with Content-Encoding gzip but a plain body (enrich) → 400", () ->
        assertError(raw(enrich, "PUT", "/reference/merchant/BI-" + RUN + "-gz", bytes("{\"name\":\"x\"}"),
            "Content-Type", JSON, "Content-Encoding", "gzip", "Authorization", "Bearer " + Harness.TOKEN), 400));
    add(tests, "reference data: POST /reference/merchant as text/plain (enrich) → 415", () ->
        assertError(send(Harness.authorized(enrich.url("/reference/merchant")).header("Content-Type", "text/plain")
            .POST(HttpRequest.BodyPublishers.ofString("key,name\nk,n\n"))), 415));
    add(tests, "reference data: bulk NDJSON load with one bad line (enrich) → 200, that line reported", () -> {
      Reply r = send(Harness.authorized(enrich.url("/reference/merchant")).header("Content-Type", NDJSON)
          .POST(HttpRequest.BodyPublishers.ofString("{\"key\":\"BI-" + RUN + "-m1\",\"name\":\"n\",\"category\":\"books\"}\n{broken\n")));
      assertThat(r.status()).as("%s", r).isEqualTo(200);
      assertJsonType(r);
      JsonObject body = json(r);
      assertThat(body.getLong("loaded")).as("%s", r).isEqualTo(1);
      assertThat(body.getLong("rejected")).as("%s", r).isEqualTo(1);
      assertThat(body.getJsonArray("errors")).as("%s", r).hasSize(1);
      assertThat(body.getJsonArray("errors").getJsonObject(0).getLong("line")).as("%s", r).isEqualTo(2);
      assertThat(body.getJsonArray("errors").getJsonObject(0).getString("error")).as("%s", r).isNotBlank();
    });

    add(tests, "ranges: GET /aggregates/spend_by_card/C1?from=abc → 400", () ->
        assertError(get(aggregate, "/aggregates/spend_by_card/C1?from=abc"), 400, "from"));
    add(tests, "ranges: ?from=99999999999999999999999&to=1e400 → exactly one 400 answer", () -> {
      byte[] pipelined = concat(
          request(aggregate, "GET", "/aggregates/spend_by_card/C1?from=99999999999999999999999&to=1e400", null, false),
          request(aggregate, "GET", "/health/live", null, true));
      List<Reply> replies = exchange(aggregate, pipelined);
      assertThat(replies).as("answers to the bad query and to the /health/live pipelined after it").hasSize(2);
      assertError(replies.get(0), 400);
      assertThat(replies.get(1).status()).as("the answer after it belongs to /health/live: %s", replies.get(1)).isEqualTo(200);
    });
    add(tests, "ranges: ?from=+1000000000-01-01T00:00:00Z (an instant past epoch millis) → 400", () ->
        assertError(get(aggregate, "/aggregates/spend_by_card/C1?from=%2B1000000000-01-01T00:00:00Z"), 400, "from"));
    add(tests, "ranges: GET /aggregates/spend_by_category?top=0 → 400", () ->
        assertError(get(aggregate, "/aggregates/spend_by_category?top=0"), 400, "top"));
    add(tests, "ranges: GET /aggregates/spend_by_category?top=abc → 400", () ->
        assertError(get(aggregate, "/aggregates/spend_by_category?top=abc"), 400, "top"));
    add(tests, "ranges: GET /aggregates/spend_by_category?top=10001 → 400", () ->
        assertError(get(aggregate, "/aggregates/spend_by_category?top=10001"), 400, "top"));
    add(tests, "ranges: GET /aggregates/spend_by_category?by=no_such_measure → 400", () ->
        assertError(get(aggregate, "/aggregates/spend_by_category?top=5&by=no_such_measure"), 400, "by"));

    add(tests, "methods: DELETE /events → 405 with Allow: POST", () ->
        assertMethodNotAllowed(send(HttpRequest.newBuilder(URI.create(ingest.url("/events"))).DELETE()), "POST"));
    add(tests, "methods: GET /events → 405 with Allow: POST", () ->
        assertMethodNotAllowed(get(ingest, "/events"), "POST"));
    add(tests, "methods: GET /control/pause with the token → 405 with Allow: POST", () ->
        assertMethodNotAllowed(send(Harness.authorized(ingest.url("/control/pause")).GET()), "POST"));
    add(tests, "methods: PUT /aggregates/spend_by_card/x → 405 with Allow: GET", () ->
        assertMethodNotAllowed(send(HttpRequest.newBuilder(URI.create(aggregate.url("/aggregates/spend_by_card/x")))
            .PUT(HttpRequest.BodyPublishers.ofString("{}"))), "GET"));
    add(tests, "methods: POST /health/ready (enrich) → 405 with Allow: GET", () ->
        assertMethodNotAllowed(send(HttpRequest.newBuilder(URI.create(enrich.url("/health/ready")))
            .POST(HttpRequest.BodyPublishers.noBody())), "GET"));
    for (ServiceProcess service : List.of(ingest, enrich, aggregate)) {
      add(tests, "unknown path: GET /nope (" + stage(service) + ") → 404 JSON, not HTML", () -> assertError(get(service, "/nope"), 404));
    }
  }

  /** Valid but unusual: accepted, and stored under exactly the card sent. */
  private static void storedLiterally(List<DynamicTest> tests) {
    add(tests, "numbers: amount 1e15 exactly → 202", () -> assertAllAccepted(post(JSON, bytes(event("BI-" + RUN + "-max", "1e15"))), 1));
    add(tests, "numbers: amount -1e15 exactly → 202", () -> assertAllAccepted(post(JSON, bytes(event("BI-" + RUN + "-min", "-1e15"))), 1));
    add(tests, "numbers: two events of one card with amount 1e15 each → 202, the window total is 2e15 (finite)", () -> {
      String card = "BI-" + RUN + "-max2";
      assertAllAccepted(post(NDJSON, lines(event(card, "1e15"), event(card, "1000000000000000"))), 2);
      assertStored(card, 2, 2e15);
    });
    add(tests, "keys: card_id with CRLF → 202, stored literally", () -> acceptedAndStored("BI-" + RUN + "-cr\r\nlf", 3.5));
    add(tests, "keys: card_id with NUL → 202, stored literally", () -> acceptedAndStored("BI-" + RUN + "-nul\u0000x", 4.25));
    add(tests, "keys: card_id with glob characters *?[ab] → 202, stored literally (not matched as a pattern)", () -> {
      String glob = "BI-" + RUN + "-g*?[ab]";
      String sibling = "BI-" + RUN + "-gzza"; // what the glob would match
      assertAllAccepted(post(NDJSON, lines(event(glob, "1"), event(glob, "2"), event(sibling, "100"))), 3);
      assertStored(glob, 2, 3);
      assertStored(sibling, 1, 100);
    });
  }

  private static void numbers(List<DynamicTest> tests) {
    add(tests, "numbers: amount 1.7e308 → that event rejected, naming the range", () -> rejectedAmongGood(bad("amount", "1.7e308"), RANGE));
    add(tests, "numbers: amount -1e16 → that event rejected, naming the range", () -> rejectedAmongGood(bad("amount", "-1e16"), RANGE));
    add(tests, "numbers: amount 1000000000000001 (just past 1e15) → that event rejected, naming the range", () ->
        rejectedAmongGood(bad("amount", "1000000000000001"), RANGE));
    add(tests, "numbers: amount as a 400-digit integer → that event rejected, naming the range", () ->
        rejectedAmongGood(bad("amount", "9".repeat(400)), RANGE));
    add(tests, "numbers: amount NaN token → that event rejected", () -> rejectedAmongGood(bad("amount", "NaN")));
    add(tests, "numbers: amount Infinity token → that event rejected", () -> rejectedAmongGood(bad("amount", "Infinity")));
    add(tests, "numbers: amount -Infinity token → that event rejected", () -> rejectedAmongGood(bad("amount", "-Infinity")));
    add(tests, "numbers: amount with leading zeros (007) → that event rejected", () -> rejectedAmongGood(bad("amount", "007")));
    add(tests, "numbers: amount as a string → that event rejected", () -> rejectedAmongGood(bad("amount", "\"12\""), "amount"));
  }

  private static void keysAndIds(List<DynamicTest> tests) {
    add(tests, "keys: empty card_id → that event rejected", () ->
        rejectedAmongGood("{\"txn_id\":" + q(id()) + ",\"card_id\":\"\",\"merchant_id\":\"M1\",\"amount\":1}", "card_id"));
    add(tests, "keys: 600-character card_id → that event rejected", () ->
        rejectedAmongGood("{\"txn_id\":" + q(id()) + ",\"card_id\":" + q("c".repeat(600)) + ",\"merchant_id\":\"M1\",\"amount\":1}", "card_id"));
    add(tests, "keys: card_id null → that event rejected", () ->
        rejectedAmongGood("{\"txn_id\":" + q(id()) + ",\"card_id\":null,\"merchant_id\":\"M1\",\"amount\":1}", "card_id"));
    add(tests, "keys: card_id as a number where the schema says string → that event rejected", () ->
        rejectedAmongGood("{\"txn_id\":" + q(id()) + ",\"card_id\":42,\"merchant_id\":\"M1\",\"amount\":1}", "card_id"));
    add(tests, "ids: txn_id as an object → that event rejected", () ->
        rejectedAmongGood("{\"txn_id\":{\"a\":1},\"card_id\":" + q(BAD) + ",\"merchant_id\":\"M1\",\"amount\":1}", "txn_id"));
    add(tests, "ids: txn_id missing → that event rejected", () ->
        rejectedAmongGood("{\"card_id\":" + q(BAD) + ",\"merchant_id\":\"M1\",\"amount\":1}", "txn_id"));
    add(tests, "ids: 600-character txn_id → that event rejected", () ->
        rejectedAmongGood("{\"txn_id\":" + q("i".repeat(600)) + ",\"card_id\":" + q(BAD) + ",\"merchant_id\":\"M1\",\"amount\":1}", "txn_id"));
  }

  private static void utf8(List<DynamicTest> tests) {
    Map<String, byte[]> sequences = new LinkedHashMap<>();
    sequences.put("overlong C0 AF", new byte[] {(byte) 0xC0, (byte) 0xAF});
    sequences.put("encoded surrogate ED A0 80", new byte[] {(byte) 0xED, (byte) 0xA0, (byte) 0x80});
    sequences.put("lone FF", new byte[] {(byte) 0xFF});
    sequences.forEach((what, sequence) -> add(tests, "UTF-8: " + what + " inside card_id → only that NDJSON line rejected, naming UTF-8", () ->
        rejectedAmongGood(concat(bytes("{\"txn_id\":" + q(id()) + ",\"card_id\":\"BI-" + RUN + "-u"), sequence,
            bytes("\",\"merchant_id\":\"M1\",\"amount\":1}")), "UTF-8")));
    sequences.forEach((what, sequence) -> add(tests, "UTF-8: " + what + " inside card_id → only that element of a JSON array rejected, naming UTF-8", () ->
        assertBatch(post(JSON, concat(bytes("[" + good() + ","), malformedCard(sequence), bytes("," + good() + "]"))), 2, 1, "UTF-8")));
    sequences.forEach((what, sequence) -> add(tests, "UTF-8: " + what + " inside card_id of a single JSON object → 400, naming UTF-8", () ->
        assertAllRejected(post(JSON, malformedCard(sequence)), 1, "UTF-8")));
    add(tests, "UTF-8: a JSON array of two events, an overlong '/' in one id and an encoded surrogate in the other → 400, "
        + "both rejected naming UTF-8, neither counted", () -> {
      String card = "BI-" + RUN + "-u8array";
      byte[] body = concat(
          bytes("[{\"txn_id\":\"u1"), new byte[] {(byte) 0xC0, (byte) 0xAF}, bytes("\",\"card_id\":" + q(card) + ",\"merchant_id\":\"M1\",\"amount\":5},"),
          bytes("{\"txn_id\":\"u2"), new byte[] {(byte) 0xED, (byte) 0xA0, (byte) 0x80}, bytes("\",\"card_id\":" + q(card) + ",\"merchant_id\":\"M1\",\"amount\":7}]"));
      assertAllRejected(post(JSON, body), 2, "UTF-8");
      acceptedAndStored(card, 1.25);
    });
    add(tests, "UTF-8: lone FF inside a field the schema does not declare → only that NDJSON line rejected, naming UTF-8", () ->
        rejectedAmongGood(concat(bytes("{\"txn_id\":" + q(id()) + ",\"card_id\":" + q(BAD) + ",\"merchant_id\":\"M1\",\"amount\":1,\"note\":\"a"),
            new byte[] {(byte) 0xFF}, bytes("b\"}")), "UTF-8"));
    add(tests, "UTF-8: overlong C0 AF inside a field name → only that NDJSON line rejected, naming UTF-8", () ->
        rejectedAmongGood(concat(bytes("{\"txn_id\":" + q(id()) + ",\"card_id\":" + q(BAD) + ",\"merchant_id\":\"M1\",\"amount\":1,\"n"),
            new byte[] {(byte) 0xC0, (byte) 0xAF}, bytes("\":1}")), "UTF-8"));
  }

  /** Last of the event classes: an extreme time wrongly accepted is the likeliest to upset a later stage. */
  private static void times(List<DynamicTest> tests) {
    add(tests, "times: ts 9223372036854775807 → that event rejected as from the future", () ->
        rejectedAmongGood(bad("ts", String.valueOf(Long.MAX_VALUE)), "future"));
    add(tests, "times: ISO time far in the future (9999-12-31T23:59:59Z) → that event rejected as from the future", () ->
        rejectedAmongGood(bad("ts", "\"9999-12-31T23:59:59Z\""), "future"));
    add(tests, "times: event time an hour and five minutes ahead → that event rejected as from the future", () ->
        rejectedAmongGood(bad("ts", String.valueOf(System.currentTimeMillis() + Duration.ofMinutes(65).toMillis())), "future"));
    add(tests, "times: ts as garbage text → that event rejected", () -> rejectedAmongGood(bad("ts", "\"last tuesday-ish\""), "ISO-8601"));
    add(tests, "times: ts on a date that does not exist (2026-02-30) → that event rejected", () ->
        rejectedAmongGood(bad("ts", "\"2026-02-30T00:00:00Z\""), "ISO-8601"));
    add(tests, "times: ts with a fraction of a millisecond (1.5) → that event rejected", () -> rejectedAmongGood(bad("ts", "1.5")));
    add(tests, "times: ts as an object → that event rejected", () -> rejectedAmongGood(bad("ts", "{\"at\":1}")));
    add(tests, "times: ts -9223372036854775808 → that event rejected", () -> rejectedAmongGood(bad("ts", String.valueOf(Long.MIN_VALUE))));
  }

  /**
   * {@value #MAX_IN_FLIGHT} requests hold the admission slots (headers sent, body not yet), then more
   * arrive at once: those get 503 with Retry-After; once the held bodies are sent, they get 202.
   */
  private static void burst() throws Exception {
    List<Socket> held = new ArrayList<>();
    List<byte[]> rests = new ArrayList<>();
    List<Reply> replies = new ArrayList<>();
    ExecutorService pool = Executors.newFixedThreadPool(16);
    try {
      for (int i = 0; i < MAX_IN_FLIGHT; i++) {
        byte[] body = lines(good(), good());
        byte[] head = bytes("POST /events HTTP/1.1\r\nHost: 127.0.0.1:" + ingest.port() + "\r\nContent-Type: " + NDJSON
            + "\r\nContent-Length: " + body.length + "\r\nConnection: close\r\n\r\n");
        Socket socket = new Socket();
        socket.connect(new InetSocketAddress("127.0.0.1", ingest.port()), 2000);
        socket.setSoTimeout(30_000);
        socket.getOutputStream().write(concat(head, Arrays.copyOf(body, 5)));
        socket.getOutputStream().flush();
        held.add(socket);
        rests.add(Arrays.copyOfRange(body, 5, body.length));
      }
      Thread.sleep(500);
      List<Future<Reply>> burst = new ArrayList<>();
      for (int i = 0; i < 3 * MAX_IN_FLIGHT; i++) {
        burst.add(pool.submit(() -> send(HttpRequest.newBuilder(URI.create(ingest.url("/events"))).header("Content-Type", NDJSON)
            .POST(HttpRequest.BodyPublishers.ofByteArray(lines(good()))))));
      }
      for (Future<Reply> f : burst) {
        replies.add(f.get(60, TimeUnit.SECONDS));
      }
      for (int i = 0; i < held.size(); i++) {
        Socket socket = held.get(i);
        socket.getOutputStream().write(rests.get(i));
        socket.getOutputStream().flush();
        replies.add(single(parse(readAll(socket.getInputStream()))));
      }
    } finally {
      pool.shutdownNow();
      for (Socket socket : held) {
        socket.close();
      }
    }
    assertThat(replies).as("statuses of the burst").extracting(Reply::status).containsOnly(202, 503).contains(503);
    assertThat(replies.subList(replies.size() - MAX_IN_FLIGHT, replies.size())).as("the requests that held the slots")
        .extracting(Reply::status).containsOnly(202);
    for (Reply r : replies) {
      if (r.status() == 503) {
        assertThat(r.header("Retry-After")).as("Retry-After of %s", r).isNotBlank();
        assertError(r, 503);
      } else {
        assertThat(json(r).getInteger("accepted")).as("%s", r).isPositive();
      }
    }
  }

  // ------------------------------------------------------------------------------------------------
  // Afterwards: valid events are still taken, counted and queryable
  // ------------------------------------------------------------------------------------------------

  @Test
  @Order(2)
  void validEventsSentAfterwardsAreAcceptedCountedAndQueryable() throws Exception {
    String card = "BI-" + RUN + "-after";
    double before = eventsIn(aggregate);
    List<String> events = new ArrayList<>();
    double total = 0;
    for (int i = 0; i < 25; i++) {
      double amount = (i + 1) * 1.25;
      total += amount;
      events.add(event(card, String.valueOf(amount)));
    }
    assertAllAccepted(post(NDJSON, lines(events.subList(0, 10).toArray(String[]::new))), 10);
    assertAllAccepted(post(JSON, bytes("[" + String.join(",", events.subList(10, 25)) + "]")), 15);
    Harness.await("tributary_events_in_total of aggregate to grow by 25", Duration.ofSeconds(60), () -> {
      try {
        return eventsIn(aggregate) >= before + 25;
      } catch (Exception e) {
        return false;
      }
    });
    assertStored(card, 25, total);
    assertAllReady();
  }

  /**
   * A stream time at the end of time, stored for the other partition as it was before the future
   * guard (or by an input around it): the card's windows and the current window's top groups stay
   * visible, since the queries ignore stream times beyond the wall clock plus the allowed lead.
   */
  @Test
  @Order(3)
  void aStoredStreamTimeAtTheEndOfTimeHidesNoWindow() throws Exception {
    String card = "BI-" + RUN + "-after";
    int other = 1 - Partitions.of(card, 2);
    Vertx vertx = Vertx.vertx();
    Redis redis = Redis.createClient(vertx, devstack.redisUri());
    try {
      redis.send(Request.cmd(Command.HSET).arg("tributary:" + NAME + ":agg:{" + NAME + "." + other + "}:meta")
          .arg("st").arg(Long.MAX_VALUE)).await(10, TimeUnit.SECONDS);
    } finally {
      redis.close();
      vertx.close().await(10, TimeUnit.SECONDS);
    }
    assertStored(card, 25, 406.25);
    Reply top = get(aggregate, "/aggregates/spend_by_category?top=5");
    assertThat(top.status()).as("%s", top).isEqualTo(200);
    assertThat(json(top).getJsonArray("top").stream().map(g -> ((JsonObject) g).getString("group")).toList())
        .as("the current window's groups, %s", top).contains("food");
    assertAllReady();
  }

  // ------------------------------------------------------------------------------------------------
  // Assertions
  // ------------------------------------------------------------------------------------------------

  /** A refusal: exactly {@code status}, Content-Type application/json, {@code {"error": "<non-empty reason>"}} with each word in it. */
  private static void assertError(Reply r, int status, String... words) {
    assertThat(r.status()).as("status of %s", r).isEqualTo(status);
    assertJsonType(r);
    JsonObject body = json(r);
    assertThat(body.getValue("error")).as("\"error\" of %s", r).isInstanceOf(String.class);
    assertThat(body.getString("error")).as("\"error\" of %s", r).isNotBlank();
    for (String word : words) {
      assertThat(body.getString("error")).as("\"error\" of %s", r).containsIgnoringCase(word);
    }
  }

  private static void assertMethodNotAllowed(Reply r, String allowed) {
    assertError(r, 405);
    assertThat(r.header("Allow")).as("Allow of %s", r).isNotNull();
    assertThat(Arrays.stream(r.header("Allow").split(",")).map(String::trim).toList()).as("Allow of %s", r).contains(allowed);
  }

  /** A body with no valid event: 400, and each of its {@code count} events rejected in order, with each word in its reason. */
  private static void assertAllRejected(Reply r, int count, String... words) {
    assertError(r, 400);
    JsonArray rejected = json(r).getJsonArray("rejected");
    assertThat(rejected).as("\"rejected\" of %s", r).isNotNull().hasSize(count);
    for (int i = 0; i < count; i++) {
      JsonObject one = rejected.getJsonObject(i);
      assertThat(one.getValue("index")).as("rejected index of %s", r).isEqualTo(i);
      for (String word : words) {
        assertThat(one.getString("error")).as("rejected error of %s", r).containsIgnoringCase(word);
      }
    }
  }

  /** A batch with valid events: 202, {@code accepted} of them, and exactly {@code rejectedIndex} rejected, with each word in its reason. */
  private static void assertBatch(Reply r, int accepted, int rejectedIndex, String... words) {
    assertThat(r.status()).as("status of %s", r).isEqualTo(202);
    assertJsonType(r);
    JsonObject body = json(r);
    assertThat(body.getValue("accepted")).as("\"accepted\" of %s", r).isEqualTo(accepted);
    JsonArray rejected = body.getJsonArray("rejected");
    assertThat(rejected).as("\"rejected\" of %s", r).isNotNull().hasSize(1);
    JsonObject one = rejected.getJsonObject(0);
    assertThat(one.getValue("index")).as("rejected index of %s", r).isEqualTo(rejectedIndex);
    assertThat(one.getValue("error")).as("rejected error of %s", r).isInstanceOf(String.class);
    assertThat(one.getString("error")).as("rejected error of %s", r).isNotBlank();
    for (String word : words) {
      assertThat(one.getString("error")).as("rejected error of %s", r).containsIgnoringCase(word);
    }
  }

  private static void assertAllAccepted(Reply r, int accepted) {
    assertThat(r.status()).as("status of %s", r).isEqualTo(202);
    assertJsonType(r);
    JsonObject body = json(r);
    assertThat(body.getValue("accepted")).as("\"accepted\" of %s", r).isEqualTo(accepted);
    assertThat(body.getJsonArray("rejected")).as("\"rejected\" of %s", r).isEmpty();
  }

  /** One bad event between two good ones, as NDJSON: 202, two accepted, index 1 rejected with each word in its reason. */
  private static void rejectedAmongGood(String bad, String... words) throws Exception {
    rejectedAmongGood(bytes(bad), words);
  }

  private static void rejectedAmongGood(byte[] bad, String... words) throws Exception {
    assertBatch(post(NDJSON, concat(bytes(good() + "\n"), bad, bytes("\n" + good() + "\n"))), 2, 1, words);
  }

  private static void acceptedAndStored(String card, double amount) throws Exception {
    assertAllAccepted(post(JSON, bytes(event(card, String.valueOf(amount)))), 1);
    assertStored(card, 1, amount);
  }

  /** The windows of {@code card} in spend_by_card (queried with the card percent-encoded) sum to {@code count} events and {@code total}. */
  private static void assertStored(String card, long count, double total) throws Exception {
    String path = "/aggregates/spend_by_card/" + URLEncoder.encode(card, StandardCharsets.UTF_8).replace("+", "%20");
    AtomicReference<Reply> last = new AtomicReference<>();
    try {
      Harness.await("spend_by_card of " + Json.encode(card) + " to count " + count, Duration.ofSeconds(60), () -> {
        try {
          Reply r = get(aggregate, path);
          last.set(r);
          return r.status() == 200 && sum(json(r), "count") >= count;
        } catch (Exception e) {
          return false;
        }
      });
    } catch (AssertionError timeout) {
      fail(timeout.getMessage() + "; last answer: " + last.get());
    }
    Reply r = last.get();
    assertJsonType(r);
    JsonObject body = json(r);
    assertThat(body.getString("group")).as("group of %s", r).isEqualTo(card);
    assertThat(sum(body, "count")).as("count of %s", r).isEqualTo((double) count);
    assertThat(sum(body, "total")).as("total of %s", r).isFinite().isCloseTo(total, within(Math.max(1e-6, Math.abs(total) * 1e-12)));
    for (Object w : body.getJsonArray("windows")) {
      Object t = ((JsonObject) w).getJsonObject("measures").getValue("total");
      assertThat(t).as("a window total of %s", r).isInstanceOf(Number.class);
      assertThat(((Number) t).doubleValue()).as("a window total of %s", r).isFinite();
    }
  }

  private static double sum(JsonObject windows, String measure) {
    double sum = 0;
    for (Object w : windows.getJsonArray("windows")) {
      Object value = ((JsonObject) w).getJsonObject("measures").getValue(measure);
      sum += value instanceof Number n ? n.doubleValue() : Double.NaN;
    }
    return sum;
  }

  private static void pauseRefused(ServiceProcess service, String authorization) throws Exception {
    HttpRequest.Builder request = HttpRequest.newBuilder(URI.create(service.url("/control/pause"))).POST(HttpRequest.BodyPublishers.noBody());
    if (authorization != null) {
      request.header("Authorization", authorization);
    }
    try {
      assertError(send(request), 401);
    } finally {
      // Should the token check have let it through, the service must not stay paused for the classes after this one.
      send(Harness.authorized(service.url("/control/resume")).POST(HttpRequest.BodyPublishers.noBody()));
    }
  }

  private static void assertJsonType(Reply r) {
    assertThat(r.header("Content-Type")).as("Content-Type of %s", r).isNotNull();
    assertThat(r.header("Content-Type").toLowerCase(Locale.ROOT)).as("Content-Type of %s", r).startsWith("application/json");
  }

  private static JsonObject json(Reply r) {
    try {
      return new JsonObject(r.body());
    } catch (DecodeException | ClassCastException e) {
      throw new AssertionError("the body is not a JSON object: " + r);
    }
  }

  /** Every service answers GET /health/ready with 200 (within a few seconds, for a dependency check that was just slow). */
  private static void assertAllReady() throws Exception {
    for (ServiceProcess service : all) {
      long deadline = System.nanoTime() + Duration.ofSeconds(10).toNanos();
      int status;
      while ((status = service.status("/health/ready")) != 200 && System.nanoTime() < deadline) {
        Thread.sleep(200);
      }
      assertThat(status).as("GET /health/ready of %s afterwards", stage(service)).isEqualTo(200);
    }
  }

  private static double eventsIn(ServiceProcess service) throws Exception {
    Reply metrics = get(service, "/metrics");
    assertThat(metrics.status()).as("/metrics of %s", stage(service)).isEqualTo(200);
    return metrics.body().lines().filter(l -> l.startsWith("tributary_events_in_total"))
        .mapToDouble(l -> Double.parseDouble(l.substring(l.lastIndexOf(' ') + 1))).sum();
  }

  // ------------------------------------------------------------------------------------------------
  // Events and bodies
  // ------------------------------------------------------------------------------------------------

  private static String id() {
    return "bi-" + RUN + "-" + IDS.incrementAndGet();
  }

  private static String q(String text) {
    return Json.encode(text);
  }

  /** A valid event of {@code card} with {@code amount} as written (JSON number text), without ts: it takes its arrival time. */
  private static String event(String card, String amount) {
    return "{\"txn_id\":" + q(id()) + ",\"card_id\":" + q(card) + ",\"merchant_id\":\"M1\",\"amount\":" + amount + "}";
  }

  /** A valid companion event. */
  private static String good() {
    return event(PAD, "1");
  }

  /** An event of the bad card with {@code field} set to the JSON text {@code value} (amount 1 unless that is the field). */
  private static String bad(String field, String value) {
    return "{\"txn_id\":" + q(id()) + ",\"card_id\":" + q(BAD) + ",\"merchant_id\":\"M1\""
        + (field.equals("amount") ? "" : ",\"amount\":1") + ",\"" + field + "\":" + value + "}";
  }

  /** An event of this run whose card id holds {@code sequence}. */
  private static byte[] malformedCard(byte[] sequence) {
    return concat(bytes("{\"txn_id\":" + q(id()) + ",\"card_id\":\"BI-" + RUN + "-u"), sequence, bytes("\",\"merchant_id\":\"M1\",\"amount\":1}"));
  }

  private static byte[] bytes(String text) {
    return text.getBytes(StandardCharsets.UTF_8);
  }

  private static byte[] lines(String... lines) {
    return bytes(String.join("\n", lines) + "\n");
  }

  private static byte[] concat(byte[]... parts) {
    ByteArrayOutputStream out = new ByteArrayOutputStream();
    for (byte[] part : parts) {
      out.writeBytes(part);
    }
    return out.toByteArray();
  }

  private static byte[] gzip(byte[] data) throws IOException {
    ByteArrayOutputStream out = new ByteArrayOutputStream();
    try (GZIPOutputStream gz = new GZIPOutputStream(out)) {
      gz.write(data);
    }
    return out.toByteArray();
  }

  /** HTTP's "deflate": the zlib format. */
  private static byte[] deflate(byte[] data) {
    Deflater deflater = new Deflater();
    deflater.setInput(data);
    deflater.finish();
    ByteArrayOutputStream out = new ByteArrayOutputStream();
    byte[] chunk = new byte[8192];
    while (!deflater.finished()) {
      out.write(chunk, 0, deflater.deflate(chunk));
    }
    deflater.end();
    return out.toByteArray();
  }

  private static String stage(ServiceProcess service) {
    return service == ingest ? "ingest" : service == enrich ? "enrich" : "aggregate";
  }

  private static void add(List<DynamicTest> tests, String name, Executable check) {
    tests.add(named(name, check));
  }

  /** The class's check, then the readiness of every service, whether or not the check passed. */
  private static DynamicTest named(String name, Executable check) {
    return DynamicTest.dynamicTest(name, () -> {
      Throwable failure = null;
      try {
        check.execute();
      } catch (Throwable t) {
        failure = t;
      }
      try {
        assertAllReady();
      } catch (Throwable t) {
        if (failure == null) {
          failure = t;
        } else {
          failure.addSuppressed(t);
        }
      }
      if (failure instanceof AssertionError) {
        // Surefire's reports name a dynamic test by its number only: the message names the class.
        AssertionError named = new AssertionError(name + " -- " + failure.getMessage(), failure);
        Arrays.stream(failure.getSuppressed()).forEach(named::addSuppressed);
        throw named;
      }
      if (failure != null) {
        throw failure;
      }
    });
  }

  // ------------------------------------------------------------------------------------------------
  // HTTP: java.net.http for well-formed requests, a raw socket where the bytes themselves are the point
  // ------------------------------------------------------------------------------------------------

  /** An answer: status (-1 when the connection closed without one), headers by lower-case name, body. */
  record Reply(int status, Map<String, List<String>> headers, byte[] bytes) {
    String body() {
      return new String(bytes, StandardCharsets.UTF_8);
    }

    String header(String name) {
      List<String> values = headers.get(name.toLowerCase(Locale.ROOT));
      return values == null || values.isEmpty() ? null : values.get(0);
    }

    @Override
    public String toString() {
      String body = body();
      return status + " [Content-Type: " + header("Content-Type") + (header("Allow") != null ? ", Allow: " + header("Allow") : "")
          + "] " + (body.length() > 300 ? body.substring(0, 300) + "..." : body);
    }
  }

  private static Reply send(HttpRequest.Builder request) throws Exception {
    HttpResponse<String> response = Harness.send(request);
    Map<String, List<String>> headers = new LinkedHashMap<>();
    response.headers().map().forEach((k, v) -> headers.put(k.toLowerCase(Locale.ROOT), v));
    return new Reply(response.statusCode(), headers, bytes(response.body()));
  }

  private static Reply get(ServiceProcess service, String path) throws Exception {
    return send(HttpRequest.newBuilder(URI.create(service.url(path))).GET());
  }

  /** POST /events with exactly these bytes, as {@code contentType} (no Content-Type header when null). */
  private static Reply post(String contentType, byte[] body) throws IOException {
    return contentType == null ? raw(ingest, "POST", "/events", body) : raw(ingest, "POST", "/events", body, "Content-Type", contentType);
  }

  private static Reply postEncoded(String contentType, String encoding, byte[] body) throws IOException {
    return raw(ingest, "POST", "/events", body, "Content-Type", contentType, "Content-Encoding", encoding);
  }

  /** One request on a connection of its own, headers given as name, value, name, value... */
  private static Reply raw(ServiceProcess service, String method, String target, byte[] body, String... headers) throws IOException {
    return single(exchange(service, request(service, method, target, body, true, headers)));
  }

  private static byte[] request(ServiceProcess service, String method, String target, byte[] body, boolean close, String... headers) {
    StringBuilder head = new StringBuilder(method + " " + target + " HTTP/1.1\r\nHost: 127.0.0.1:" + service.port() + "\r\n");
    for (int i = 0; i < headers.length; i += 2) {
      head.append(headers[i]).append(": ").append(headers[i + 1]).append("\r\n");
    }
    if (body != null) {
      head.append("Content-Length: ").append(body.length).append("\r\n");
    }
    if (close) {
      head.append("Connection: close\r\n");
    }
    head.append("\r\n");
    return concat(head.toString().getBytes(StandardCharsets.ISO_8859_1), body == null ? new byte[0] : body);
  }

  /** Writes {@code bytes} on a new connection and reads every answer until the server closes it (or 30 s pass). */
  private static List<Reply> exchange(ServiceProcess service, byte[] bytes) throws IOException {
    try (Socket socket = new Socket()) {
      socket.connect(new InetSocketAddress("127.0.0.1", service.port()), 2000);
      socket.setSoTimeout(30_000);
      try {
        OutputStream out = socket.getOutputStream();
        out.write(bytes);
        out.flush();
      } catch (IOException refusedMidway) {
        // the server may answer and close before reading all of it (an oversized request): read what it said
      }
      return parse(readAll(socket.getInputStream()));
    }
  }

  private static byte[] readAll(InputStream in) {
    ByteArrayOutputStream out = new ByteArrayOutputStream();
    byte[] chunk = new byte[16384];
    try {
      for (int n; (n = in.read(chunk)) >= 0; ) {
        out.write(chunk, 0, n);
      }
    } catch (SocketTimeoutException | java.net.SocketException stopped) {
      // what arrived until then is the answer
    } catch (IOException e) {
      throw new java.io.UncheckedIOException(e);
    }
    return out.toByteArray();
  }

  private static Reply single(List<Reply> replies) {
    if (replies.isEmpty()) {
      return new Reply(-1, Map.of(), bytes("(no answer: the connection closed without a response)"));
    }
    assertThat(replies).as("answers on one connection to one request").hasSize(1);
    return replies.get(0);
  }

  /** The HTTP/1.1 responses in {@code data}, in order; 1xx answers are skipped. */
  private static List<Reply> parse(byte[] data) {
    List<Reply> replies = new ArrayList<>();
    int pos = 0;
    while (pos < data.length) {
      int headEnd = indexOf(data, bytes("\r\n\r\n"), pos);
      if (headEnd < 0) {
        replies.add(new Reply(-1, Map.of(), Arrays.copyOfRange(data, pos, data.length)));
        break;
      }
      String[] head = new String(data, pos, headEnd - pos, StandardCharsets.ISO_8859_1).split("\r\n");
      String[] statusLine = head[0].split(" ", 3);
      int status = statusLine.length > 1 && statusLine[1].matches("\\d{3}") ? Integer.parseInt(statusLine[1]) : -1;
      Map<String, List<String>> headers = new LinkedHashMap<>();
      for (int i = 1; i < head.length; i++) {
        int colon = head[i].indexOf(':');
        if (colon > 0) {
          headers.computeIfAbsent(head[i].substring(0, colon).trim().toLowerCase(Locale.ROOT), k -> new ArrayList<>())
              .add(head[i].substring(colon + 1).trim());
        }
      }
      int bodyStart = headEnd + 4;
      byte[] body;
      List<String> length = headers.get("content-length");
      List<String> encoding = headers.get("transfer-encoding");
      if (encoding != null && encoding.get(0).toLowerCase(Locale.ROOT).contains("chunked")) {
        ByteArrayOutputStream out = new ByteArrayOutputStream();
        int p = bodyStart;
        while (true) {
          int lineEnd = indexOf(data, bytes("\r\n"), p);
          if (lineEnd < 0) {
            p = data.length;
            break;
          }
          int size = Integer.parseInt(new String(data, p, lineEnd - p, StandardCharsets.ISO_8859_1).split(";")[0].trim(), 16);
          p = lineEnd + 2;
          if (size == 0) {
            int trailerEnd = indexOf(data, bytes("\r\n"), p);
            p = trailerEnd < 0 ? data.length : trailerEnd + 2;
            break;
          }
          out.write(data, p, Math.min(size, data.length - p));
          p = Math.min(data.length, p + size + 2);
        }
        body = out.toByteArray();
        pos = p;
      } else if (length != null) {
        int end = Math.min(data.length, bodyStart + Integer.parseInt(length.get(0)));
        body = Arrays.copyOfRange(data, bodyStart, end);
        pos = end;
      } else {
        body = Arrays.copyOfRange(data, bodyStart, data.length);
        pos = data.length;
      }
      if (status < 100 || status >= 200) {
        replies.add(new Reply(status, headers, body));
      }
    }
    return replies;
  }

  private static int indexOf(byte[] data, byte[] needle, int from) {
    outer:
    for (int i = from; i <= data.length - needle.length; i++) {
      for (int j = 0; j < needle.length; j++) {
        if (data[i + j] != needle[j]) {
          continue outer;
        }
      }
      return i;
    }
    return -1;
  }
}
