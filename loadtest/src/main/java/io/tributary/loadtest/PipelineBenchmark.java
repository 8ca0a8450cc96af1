package io.tributary.loadtest;

import java.net.URI;
import java.net.URLEncoder;
import java.net.http.HttpClient;
import java.net.http.HttpRequest;
import java.net.http.HttpResponse;
import java.nio.charset.StandardCharsets;
import java.time.Duration;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.HashMap;
import java.util.List;
import java.util.Locale;
import java.util.Map;
import java.util.Properties;
import java.util.Random;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.Semaphore;
import java.util.concurrent.atomic.AtomicBoolean;
import java.util.concurrent.atomic.AtomicLong;
import java.util.regex.Matcher;
import java.util.regex.Pattern;
import org.apache.kafka.clients.consumer.ConsumerRecord;
import org.apache.kafka.clients.consumer.KafkaConsumer;
import org.apache.kafka.clients.producer.KafkaProducer;
import org.apache.kafka.clients.producer.ProducerRecord;
import org.apache.kafka.common.header.Header;
import org.apache.kafka.common.serialization.StringDeserializer;
import org.apache.kafka.common.serialization.StringSerializer;

/**
 * Drives N events of the demo pipeline through a running stack, over HTTP into ingest or straight
 * onto the ingested topic (to measure enrich and aggregate alone), prints per-stage events/s and
 * consumer lag while it runs, end-to-end latency (ingest accepted the event -> its aggregate update
 * published) and, at the end, checks the aggregates against the generator's ground truth.
 *
 * <pre>
 * java -cp 'loadtest/target/loadtest.jar:loadtest/target/lib/*' io.tributary.loadtest.PipelineBenchmark \
 *   --events 1000000 --mode http --batch 1000 --rate 0
 * </pre>
 * {@code --until sent} stops after ingest acknowledged everything (ingest alone: pause enrich and
 * aggregate first), {@code --until enriched} after enrich caught up (pause aggregate first); the
 * default, {@code aggregated}, waits for the aggregates and verifies them. Exits 1 when the aggregates
 * differ from the ground truth or the pipeline does not catch up in time. {@code --enrich} (and
 * {@code --ingest}, {@code --aggregate}) take a comma-separated list when a stage runs more than one
 * instance: their rates and lags are summed.
 */
public final class PipelineBenchmark {

  private static final Pattern METRIC = Pattern.compile("^(tributary_events_in_total|tributary_events_out_total|tributary_consumer_lag)\\{([^}]*)\\} ([0-9.eE+-]+)$");

  private final Map<String, String> options;
  private final HttpClient http = HttpClient.newBuilder().version(HttpClient.Version.HTTP_1_1)
      .connectTimeout(Duration.ofSeconds(5)).build();

  private PipelineBenchmark(Map<String, String> options) {
    this.options = options;
  }

  public static void main(String[] args) throws Exception {
    System.exit(run(args) ? 0 : 1);
  }

  /** Runs the benchmark; true when the pipeline caught up and the aggregates equal the ground truth. */
  public static boolean run(String[] args) throws Exception {
    Map<String, String> options = new HashMap<>(Map.of(
        "events", "1000000", "mode", "http", "batch", "1000", "rate", "0", "concurrency", "4",
        "ingest", "http://127.0.0.1:8080", "enrich", "http://127.0.0.1:8081", "aggregate", "http://127.0.0.1:8082",
        "bootstrap", "127.0.0.1:9092", "cards", "100000"));
    options.putAll(Map.of("merchants", "100000", "ingested", "events.ingested", "updates", "aggregates.updates",
        "pipeline", "payments", "sample", "1000", "timeout", "600", "until", "aggregated"));
    for (int i = 0; i + 1 < args.length; i += 2) {
      if (!args[i].startsWith("--") || !options.containsKey(args[i].substring(2))) {
        throw new IllegalArgumentException("unknown option " + args[i] + "; options: " + options.keySet());
      }
      options.put(args[i].substring(2), args[i + 1]);
    }
    return new PipelineBenchmark(options).run();
  }

  private int intOpt(String name) {
    return Integer.parseInt(options.get(name));
  }

  boolean run() throws Exception {
    int events = intOpt("events");
    long seed = new Random().nextLong() & 0xffffffffL;
    String runId = "b" + Long.toString(seed, 36);
    PaymentGenerator generator = new PaymentGenerator(runId, seed, freshStart(), events, intOpt("cards"), intOpt("merchants"));
    System.out.printf(Locale.ROOT, "run %s: %d events, mode %s, batch %d, rate %s, event time from %s%n", runId, events,
        options.get("mode"), intOpt("batch"), intOpt("rate") == 0 ? "max" : options.get("rate") + "/s",
        java.time.Instant.ofEpochMilli(generator.base));

    Latencies latencies = new Latencies(options.get("bootstrap"), options.get("updates"), System.currentTimeMillis());
    Thread latencyThread = new Thread(latencies, "latency");
    latencyThread.setDaemon(true);
    latencyThread.start();
    latencies.awaitAssigned();

    Map<String, Double> before = scrape();
    long start = System.nanoTime();
    AtomicLong sent = new AtomicLong();
    AtomicBoolean sending = new AtomicBoolean(true);
    Thread progress = new Thread(() -> progress(start, sent, sending, before), "progress");
    progress.setDaemon(true);
    progress.start();

    if ("kafka".equals(options.get("mode"))) {
      sendToKafka(generator, events, sent);
    } else {
      sendOverHttp(generator, events, sent);
    }
    double sendSeconds = (System.nanoTime() - start) / 1e9;
    System.out.printf(Locale.ROOT, "sent %d events in %.1f s: %.0f events/s into %s%n", events, sendSeconds, events / sendSeconds,
        "kafka".equals(options.get("mode")) ? "the ingested topic" : "ingest over HTTP");

    String until = options.get("until");
    if ("sent".equals(until)) {
      sending.set(false);
      latencies.stop();
      return true;
    }
    // Stages measured alone are paused downstream: wait for the last stage that runs.
    String last = "enriched".equals(until) ? "enrich" : "aggregate";
    long deadline = System.nanoTime() + Duration.ofSeconds(intOpt("timeout")).toNanos();
    boolean caughtUp = false;
    while (System.nanoTime() < deadline) {
      Map<String, Double> now = scrape();
      double done = now.getOrDefault(last + "/in", 0.0) - before.getOrDefault(last + "/in", 0.0);
      double lag = now.getOrDefault(last + "/lag", 0.0) + ("aggregate".equals(last) ? now.getOrDefault("enrich/lag", 0.0) : 0);
      if (done >= events && lag == 0) {
        caughtUp = true;
        break;
      }
      Thread.sleep(200);
    }
    double totalSeconds = (System.nanoTime() - start) / 1e9;
    sending.set(false);
    Thread.sleep(1500);
    latencies.stop();
    if (!caughtUp) {
      System.out.println("FAILED: the pipeline did not catch up within " + options.get("timeout") + " s");
      return false;
    }
    if ("enriched".equals(until)) {
      System.out.printf(Locale.ROOT, "all %d events enriched %.1f s after the first was sent: %.0f events/s through enrich%n",
          events, totalSeconds, events / totalSeconds);
      return true;
    }
    System.out.printf(Locale.ROOT, "all %d events aggregated %.1f s after the first was sent: %.0f events/s through %s%n",
        events, totalSeconds, events / totalSeconds, "kafka".equals(options.get("mode")) ? "enrich and aggregate" : "all three stages");
    System.out.println("end-to-end latency (accepted by ingest -> aggregate update published): " + latencies.summary());
    return verify(generator);
  }

  /**
   * The start of an hour later than both now and the stack's current window plus two hours, so this
   * run's windows are its own and no partition's stream time makes its events late.
   */
  /**
   * The event time this run starts at: the wall clock (on a 5-minute boundary), or just after the
   * windows of earlier runs when their stream time is ahead of it, so that no event of this run is
   * late and no category window mixes two runs. Ingest refuses events more than the pipeline's
   * {@code maxAhead} (1 h) ahead of its clock, so runs one after the other may not drift too far.
   */
  private long freshStart() throws Exception {
    long now = System.currentTimeMillis();
    long start = now / PaymentGenerator.FIVE_MINUTES * PaymentGenerator.FIVE_MINUTES;
    HttpResponse<String> current = http.send(HttpRequest.newBuilder(URI.create(instances("aggregate").get(0)
        + "/aggregates/spend_by_category?top=1")).timeout(Duration.ofSeconds(30)).GET().build(), HttpResponse.BodyHandlers.ofString());
    Matcher end = Pattern.compile("\"window\":\\{\"start\":\\d+,\"end\":(\\d+)").matcher(current.body());
    if (end.find()) {
      // The current window ends 5 minutes after a start at most a minute before the stream time: one more
      // minute and every window of this run starts after every window of the earlier ones.
      long after = Long.parseLong(end.group(1)) + 60_000L;
      start = Math.max(start, (after + PaymentGenerator.FIVE_MINUTES - 1) / PaymentGenerator.FIVE_MINUTES * PaymentGenerator.FIVE_MINUTES);
    }
    long ahead = start + PaymentGenerator.SPAN - now;
    if (ahead > 50 * 60_000L) {
      throw new IllegalStateException("earlier runs moved the demo's stream time " + ahead / 60_000 + " minutes ahead of the clock, "
          + "and ingest refuses events more than an hour ahead; wait " + (ahead / 60_000 - 50) + " minutes or start the stack "
          + "on empty state (deploy/local/run.sh stop; redis-cli FLUSHALL; rm -rf .local/kafka)");
    }
    return start;
  }


  // ---- sending -----------------------------------------------------------------------------

  private void sendOverHttp(PaymentGenerator generator, int events, AtomicLong sent) throws Exception {
    int batch = intOpt("batch");
    Semaphore inFlight = new Semaphore(intOpt("concurrency"));
    Pacer pacer = new Pacer(intOpt("rate"));
    List<CompletableFuture<?>> pending = new ArrayList<>();
    for (int from = 0; from < events; from += batch) {
      int to = Math.min(events, from + batch);
      StringBuilder body = new StringBuilder((to - from) * 120);
      for (int i = from; i < to; i++) {
        body.append(generator.event(i)).append('\n');
      }
      pacer.await(to - from);
      inFlight.acquire();
      int count = to - from;
      pending.add(post(body.toString(), 0).whenComplete((r, e) -> {
        inFlight.release();
        sent.addAndGet(count);
      }));
      pending.removeIf(CompletableFuture::isDone);
    }
    CompletableFuture.allOf(pending.toArray(CompletableFuture[]::new)).join();
  }

  /** Posts one batch, retrying on 503 as a client should (same event ids, so nothing counts twice). */
  private CompletableFuture<Void> post(String body, int attempt) {
    HttpRequest request = HttpRequest.newBuilder(URI.create(instances("ingest").get(0) + "/events"))
        .header("Content-Type", "application/x-ndjson").timeout(Duration.ofSeconds(60))
        .POST(HttpRequest.BodyPublishers.ofString(body)).build();
    return http.sendAsync(request, HttpResponse.BodyHandlers.ofString()).thenCompose(response -> {
      if (response.statusCode() == 202) {
        return CompletableFuture.completedFuture(null);
      }
      if (response.statusCode() == 503 && attempt < 20) {
        try {
          Thread.sleep(200L * (attempt + 1));
        } catch (InterruptedException e) {
          Thread.currentThread().interrupt();
        }
        return post(body, attempt + 1);
      }
      throw new IllegalStateException("ingest answered " + response.statusCode() + ": " + response.body());
    });
  }

  private void sendToKafka(PaymentGenerator generator, int events, AtomicLong sent) throws InterruptedException {
    Properties props = new Properties();
    props.put("bootstrap.servers", options.get("bootstrap"));
    props.put("acks", "all");
    props.put("enable.idempotence", "true");
    props.put("linger.ms", "5");
    props.put("batch.size", String.valueOf(256 * 1024));
    props.put("compression.type", "lz4");
    Pacer pacer = new Pacer(intOpt("rate"));
    String topic = options.get("ingested");
    try (KafkaProducer<String, String> producer = new KafkaProducer<>(props, new StringSerializer(), new StringSerializer())) {
      for (int i = 0; i < events; i++) {
        if (i % 100 == 0) {
          pacer.await(100);
        }
        String line = generator.event(i);
        String card = line.substring(line.indexOf("\"card_id\":\"") + 11, line.indexOf("\",\"merchant_id\""));
        // As ingest writes them: no headers, the record timestamp (the time of sending) standing for acceptance.
        ProducerRecord<String, String> record = new ProducerRecord<>(topic, card, line);
        producer.send(record, (metadata, error) -> {
          if (error != null) {
            throw new IllegalStateException(error);
          }
          sent.incrementAndGet();
        });
      }
      producer.flush();
    }
  }

  /** Spreads sending so that no more than {@code rate} events per second leave; 0 means no limit. */
  private static final class Pacer {
    private final int rate;
    private final long start = System.nanoTime();
    private long released;

    Pacer(int rate) {
      this.rate = rate;
    }

    void await(int events) throws InterruptedException {
      if (rate <= 0) {
        return;
      }
      released += events;
      long due = start + released * 1_000_000_000L / rate;
      long wait = due - System.nanoTime();
      if (wait > 0) {
        Thread.sleep(wait / 1_000_000, (int) (wait % 1_000_000));
      }
    }
  }

  // ---- observing ---------------------------------------------------------------------------

  /**
   * Per stage: events in (counter) and consumer lag (gauge), read from the /metrics of each of its
   * instances and summed (each instance reports the lag of the partitions it holds).
   */
  private Map<String, Double> scrape() {
    Map<String, Double> values = new HashMap<>();
    for (String stage : List.of("ingest", "enrich", "aggregate")) {
      for (String instance : instances(stage)) {
        scrape(stage, instance, values);
      }
    }
    return values;
  }

  private void scrape(String stage, String instance, Map<String, Double> values) {
    try {
      HttpResponse<String> response = http.send(HttpRequest.newBuilder(URI.create(instance + "/metrics"))
          .timeout(Duration.ofSeconds(5)).GET().build(), HttpResponse.BodyHandlers.ofString());
      for (String line : response.body().split("\n")) {
        Matcher m = METRIC.matcher(line);
        // One process may serve several stages (fused): only this stage's series count.
        if (m.matches() && m.group(2).contains("pipeline=\"" + options.get("pipeline") + "\"")
            && m.group(2).contains("stage=\"" + stage + "\"")) {
          String kind = m.group(1).equals("tributary_consumer_lag") ? "lag" : m.group(1).contains("_in_") ? "in" : "out";
          values.merge(stage + "/" + kind, Double.parseDouble(m.group(3)), Double::sum);
        }
      }
    } catch (Exception e) {
      values.put(stage + "/down", 1.0);
    }
  }

  /** The base URLs of a stage's instances: its option, comma-separated. */
  private List<String> instances(String stage) {
    return List.of(options.get(stage).split(","));
  }

  private void progress(long start, AtomicLong sent, AtomicBoolean running, Map<String, Double> before) {
    Map<String, Double> previous = before;
    long previousSent = 0;
    while (running.get()) {
      try {
        Thread.sleep(1000);
      } catch (InterruptedException e) {
        return;
      }
      Map<String, Double> now = scrape();
      long s = sent.get();
      System.out.printf(Locale.ROOT, "t=%3ds sent %9d (%6d/s) | ingest %6.0f/s | enrich %6.0f/s lag %7.0f | aggregate %6.0f/s lag %7.0f%n",
          (System.nanoTime() - start) / 1_000_000_000L, s, s - previousSent,
          rate(now, previous, "ingest/in"), rate(now, previous, "enrich/in"), now.getOrDefault("enrich/lag", 0.0),
          rate(now, previous, "aggregate/in"), now.getOrDefault("aggregate/lag", 0.0));
      previous = now;
      previousSent = s;
    }
  }

  private static double rate(Map<String, Double> now, Map<String, Double> previous, String key) {
    return now.getOrDefault(key, 0.0) - previous.getOrDefault(key, 0.0);
  }

  /** Collects, for each update record of this run, the time since ingest accepted the oldest event of its batch. */
  private static final class Latencies implements Runnable {
    private final KafkaConsumer<String, String> consumer;
    private final String topic;
    private final long notBefore;
    private final List<long[]> chunks = new ArrayList<>();
    private long[] chunk = new long[1 << 16];
    private int filled;
    private volatile boolean running = true;
    private final java.util.concurrent.CountDownLatch assigned = new java.util.concurrent.CountDownLatch(1);

    Latencies(String bootstrap, String topic, long notBefore) {
      Properties props = new Properties();
      props.put("bootstrap.servers", bootstrap);
      props.put("group.id", "benchmark-latency-" + System.nanoTime());
      props.put("auto.offset.reset", "latest");
      props.put("enable.auto.commit", "false");
      this.consumer = new KafkaConsumer<>(props, new StringDeserializer(), new StringDeserializer());
      this.topic = topic;
      this.notBefore = notBefore;
    }

    void awaitAssigned() throws InterruptedException {
      assigned.await(30, java.util.concurrent.TimeUnit.SECONDS);
    }

    @Override
    public void run() {
      consumer.subscribe(List.of(topic));
      while (running) {
        var records = consumer.poll(Duration.ofMillis(100));
        if (!consumer.assignment().isEmpty()) {
          assigned.countDown();
        }
        long now = System.currentTimeMillis();
        for (ConsumerRecord<String, String> record : records) {
          Header accepted = record.headers().lastHeader("tributary-accepted");
          if (accepted == null || accepted.value().length == 0) {
            continue;
          }
          long at = Long.parseLong(new String(accepted.value(), StandardCharsets.UTF_8));
          if (at >= notBefore) {
            add(Math.max(0, now - at));
          }
        }
      }
      consumer.close();
    }

    private synchronized void add(long millis) {
      if (filled == chunk.length) {
        chunks.add(chunk);
        chunk = new long[chunk.length];
        filled = 0;
      }
      chunk[filled++] = millis;
    }

    void stop() {
      running = false;
    }

    synchronized String summary() {
      int total = chunks.size() * chunk.length + filled;
      if (total == 0) {
        return "no update seen";
      }
      long[] all = new long[total];
      int at = 0;
      for (long[] c : chunks) {
        System.arraycopy(c, 0, all, at, c.length);
        at += c.length;
      }
      System.arraycopy(chunk, 0, all, at, filled);
      Arrays.sort(all);
      return String.format(Locale.ROOT, "p50 %d ms, p95 %d ms, p99 %d ms, max %d ms over %d updates",
          all[total / 2], all[(int) (total * 0.95)], all[Math.min(total - 1, (int) (total * 0.99))], all[total - 1], total);
    }
  }

  // ---- verification ------------------------------------------------------------------------

  private boolean verify(PaymentGenerator generator) throws Exception {
    List<String> problems = new ArrayList<>();
    List<String> cards = new ArrayList<>(generator.byCard.keySet());
    java.util.Collections.shuffle(cards, new Random(1));
    int sample = Math.min(cards.size(), intOpt("sample"));
    for (String card : cards.subList(0, sample)) {
      double[] expected = generator.byCard.get(card);
      List<double[]> windows = windows("spend_by_card", card, generator.base - PaymentGenerator.HOUR, generator.base + 2 * PaymentGenerator.HOUR);
      if (windows.size() != 1 || windows.get(0)[1] != expected[0] || Math.abs(windows.get(0)[2] - expected[1]) > 1e-6 * expected[1]) {
        problems.add("spend_by_card/" + card + ": " + describe(windows) + " expected count " + (long) expected[0] + " total " + expected[1]);
      }
    }
    for (Map.Entry<String, Map<Long, double[]>> category : generator.byCategory.entrySet()) {
      // From the run's first event on: every window of this run ends after it, every window of an earlier run before it.
      List<double[]> windows = windows("spend_by_category", category.getKey(), generator.base,
          generator.base + PaymentGenerator.HOUR + PaymentGenerator.FIVE_MINUTES);
      Map<Long, double[]> actual = new HashMap<>();
      windows.forEach(w -> actual.put((long) w[0], w));
      for (Map.Entry<Long, double[]> expected : category.getValue().entrySet()) {
        double[] w = actual.get(expected.getKey());
        if (w == null || w[1] != expected.getValue()[0] || Math.abs(w[2] - expected.getValue()[1]) > 1e-6 * expected.getValue()[1]) {
          problems.add("spend_by_category/" + category.getKey() + "@" + expected.getKey() + ": " + (w == null ? "missing"
              : "count " + (long) w[1] + " total " + w[2]) + " expected count " + (long) expected.getValue()[0] + " total " + expected.getValue()[1]);
        }
      }
      if (actual.size() != category.getValue().size()) {
        problems.add("spend_by_category/" + category.getKey() + ": " + actual.size() + " windows, expected " + category.getValue().size());
      }
    }
    if (problems.isEmpty()) {
      System.out.printf(Locale.ROOT, "verified: %d sampled cards and every window of %d categories equal the ground truth%n",
          sample, generator.byCategory.size());
      return true;
    }
    System.out.println("FAILED verification, " + problems.size() + " differences, first: ");
    problems.stream().limit(10).forEach(p -> System.out.println("  " + p));
    return false;
  }

  /** [start, count, total] of each window of a group in a time range. */
  private List<double[]> windows(String aggregation, String group, long from, long to) throws Exception {
    String url = instances("aggregate").get(0) + "/aggregates/" + aggregation + "/" + URLEncoder.encode(group, StandardCharsets.UTF_8)
        + "?from=" + from + "&to=" + to;
    HttpResponse<String> response = http.send(HttpRequest.newBuilder(URI.create(url)).timeout(Duration.ofSeconds(30)).GET().build(),
        HttpResponse.BodyHandlers.ofString());
    List<double[]> out = new ArrayList<>();
    Matcher m = Pattern.compile("\"start\":(\\d+).*?\"count\":(\\d+),\"total\":([0-9.eE+-]+)").matcher(response.body());
    while (m.find()) {
      out.add(new double[] {Double.parseDouble(m.group(1)), Double.parseDouble(m.group(2)), Double.parseDouble(m.group(3))});
    }
    return out;
  }

  private static String describe(List<double[]> windows) {
    return windows.isEmpty() ? "no window" : windows.size() + " windows, first count " + (long) windows.get(0)[1] + " total " + windows.get(0)[2];
  }
}
