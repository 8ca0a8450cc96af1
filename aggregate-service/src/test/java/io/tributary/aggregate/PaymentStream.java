package io.tributary.aggregate;

import java.nio.charset.StandardCharsets;
import java.time.Instant;
import java.util.ArrayList;
import java.util.HashMap;
import java.util.HashSet;
import java.util.List;
import java.util.Locale;
import java.util.Map;
import java.util.Random;
import java.util.Set;
import java.util.TreeMap;
import org.apache.kafka.common.utils.Utils;

/**
 * A seeded stream of card payments for the exactly-once proofs, and the ground truth of what the
 * aggregates must hold, computed here independently of the services: about 1% invalid events (a bad
 * amount, no event time, or an event time in 2099 that must not move stream time), 2%
 * client retries of an earlier event id, 5% events up to 20 minutes late, blocked cards, unknown
 * merchants, spread over six hours of event time months in the past.
 *
 * The truth follows the documented semantics: per Kafka partition (the producer's murmur2 of the
 * card id), events in send order; the first copy of an id counts, later copies are skipped; the
 * partition's stream time is the largest event time so far; an event goes to each window still open
 * (window end + allowed lateness after stream time) and is late for an aggregation with none.
 */
final class PaymentStream {

  static final int CARDS = 1000;
  static final int MERCHANTS = 200;
  static final int CATEGORIES = 20;
  static final long BASE = Instant.parse("2026-06-01T00:00:00Z").toEpochMilli();
  static final long SPAN = 6 * 3_600_000L;
  static final long FAR_FUTURE = Instant.parse("2099-01-01T00:00:00Z").toEpochMilli();

  /** Per aggregation (name), per group, per window start: the expected measures. */
  final Map<String, Map<String, TreeMap<Long, Expected>>> truth = new HashMap<>();
  final Set<String> lateIds = new HashSet<>();
  final Set<String> invalidIds = new HashSet<>();
  /** Per event id, how many enriched records its accepted copies make: one per copy sent, none for a blocked card. */
  final Map<String, Integer> enrichedCopies = new HashMap<>();
  final List<String> batches = new ArrayList<>();
  int valid;
  int invalid;
  int retries;

  static final class Expected {
    long count;
    double total;
    double largest = Double.NEGATIVE_INFINITY;
    final Set<String> merchants = new HashSet<>();
  }

  private record Payment(String id, String card, String merchant, double amount, long time, String line) {
  }

  static String category(int merchant) {
    return "cat" + (merchant % CATEGORIES);
  }

  static boolean blocked(String card) {
    return Integer.parseInt(card.substring(1)) >= CARDS - 10;
  }

  PaymentStream(long seed, int events, int partitions, int batchSize) {
    Random random = new Random(seed);
    List<Payment> sent = new ArrayList<>();
    List<String> lines = new ArrayList<>();
    Map<Integer, Long> streamTime = new HashMap<>();
    Set<String> applied = new HashSet<>();
    for (int i = 0; i < events; i++) {
      double roll = random.nextDouble();
      if (roll < 0.02 && !sent.isEmpty()) {
        Payment again = sent.get(Math.max(0, sent.size() - 1 - random.nextInt(Math.min(sent.size(), 2000))));
        lines.add(again.line());
        enriched(again);
        apply(again, partitions, streamTime, applied);
        retries++;
      } else if (roll < 0.03) {
        // Invalid three ways: a bad amount, no event time, and an event time in 2099 (from the future).
        String ts = switch (i % 3) {
          case 0 -> ",\"ts\":" + BASE;
          case 1 -> "";
          default -> ",\"ts\":" + FAR_FUTURE;
        };
        String amount = i % 3 == 0 ? "\"n/a\"" : "12.5";
        lines.add("{\"txn_id\":\"bad-" + i + "\",\"card_id\":\"C1\",\"merchant_id\":\"M1\",\"amount\":" + amount + ts + "}");
        invalidIds.add("bad-" + i);
        invalid++;
      } else {
        String card = "C" + random.nextInt(CARDS);
        String merchant = random.nextDouble() < 0.02 ? "MX" + random.nextInt(10) : "M" + random.nextInt(MERCHANTS);
        double amount = Math.round((1 + random.nextDouble() * 499) * 100) / 100.0;
        long time = BASE + (long) i * SPAN / events + random.nextInt(20_000);
        if (random.nextDouble() < 0.05) {
          time -= 60_000L + random.nextInt(19 * 60_000);
        }
        String id = "p" + seed + "-" + i;
        String line = String.format(Locale.ROOT, "{\"txn_id\":\"%s\",\"card_id\":\"%s\",\"merchant_id\":\"%s\",\"amount\":%s,\"ts\":%d}",
            id, card, merchant, Double.toString(amount), time);
        Payment p = new Payment(id, card, merchant, amount, time, line);
        sent.add(p);
        lines.add(line);
        enriched(p);
        apply(p, partitions, streamTime, applied);
        valid++;
      }
      if (lines.size() == batchSize) {
        batches.add(String.join("\n", lines));
        lines.clear();
      }
    }
    if (!lines.isEmpty()) {
      batches.add(String.join("\n", lines));
    }
  }

  private void enriched(Payment p) {
    if (!blocked(p.card())) {
      enrichedCopies.merge(p.id(), 1, Integer::sum);
    }
  }

  private void apply(Payment p, int partitions, Map<Integer, Long> streamTimes, Set<String> applied) {
    if (blocked(p.card())) {
      return;
    }
    int partition = Utils.toPositive(Utils.murmur2(p.card().getBytes(StandardCharsets.UTF_8))) % partitions;
    if (applied.contains(p.id())) {
      return;
    }
    long st = Math.max(streamTimes.getOrDefault(partition, Long.MIN_VALUE), p.time());
    streamTimes.put(partition, st);
    boolean anyWindow = false;
    boolean late = false;
    // spend_by_card: tumbling 1h, allowedLateness 10m
    long hour = 3_600_000L;
    long cardStart = Math.floorDiv(p.time(), hour) * hour;
    if (st < cardStart + hour + 600_000L) {
      add("spend_by_card", p.card(), cardStart, p);
      anyWindow = true;
    } else {
      late = true;
    }
    // spend_by_category: hopping 5m every 1m, allowedLateness 30s; unknown merchants have no category
    if (!p.merchant().startsWith("MX")) {
      String category = category(Integer.parseInt(p.merchant().substring(1)));
      long minute = 60_000L;
      long newest = Math.floorDiv(p.time(), minute) * minute;
      boolean fitted = false;
      for (long start = newest; start > p.time() - 5 * minute; start -= minute) {
        if (st < start + 5 * minute + 30_000L) {
          add("spend_by_category", category, start, p);
          fitted = true;
        }
      }
      anyWindow |= fitted;
      late |= !fitted;
    }
    if (late) {
      lateIds.add(p.id());
    }
    if (anyWindow) {
      applied.add(p.id());
    }
  }

  private void add(String aggregation, String group, long start, Payment p) {
    Expected e = truth.computeIfAbsent(aggregation, a -> new HashMap<>()).computeIfAbsent(group, g -> new TreeMap<>())
        .computeIfAbsent(start, s -> new Expected());
    e.count++;
    e.total += p.amount();
    e.largest = Math.max(e.largest, p.amount());
    e.merchants.add(p.merchant());
  }

  /** Reference data for the enrich stage: the known merchants as NDJSON, and the blocked cards. */
  static String merchantsNdjson() {
    StringBuilder out = new StringBuilder();
    for (int m = 0; m < MERCHANTS; m++) {
      out.append("{\"key\":\"M").append(m).append("\",\"name\":\"Merchant ").append(m).append("\",\"category\":\"")
          .append(category(m)).append("\",\"country\":\"FR\",\"risk\":\"low\"}\n");
    }
    return out.toString();
  }

  static String blockedCsv() {
    StringBuilder out = new StringBuilder("key\n");
    for (int c = CARDS - 10; c < CARDS; c++) {
      out.append('C').append(c).append('\n');
    }
    return out.toString();
  }
}
