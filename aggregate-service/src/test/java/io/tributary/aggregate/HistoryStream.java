package io.tributary.aggregate;

import java.nio.charset.StandardCharsets;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.HashMap;
import java.util.HashSet;
import java.util.List;
import java.util.Locale;
import java.util.Map;
import java.util.Random;
import java.util.Set;

/**
 * A seeded payment stream for the history proof, with the features every event must get computed
 * here, independently of the product: keys skewed (three hot cards take a given share of the events), 2%
 * retries of earlier events, 5% late events (up to three hours behind), over 48 hours of event time.
 * The events go out in one order over one HTTP client, so each card's events reach enrich in that
 * order, which is the order the truth replays them in: an event sees the card's events sent before
 * it that lie strictly before it in event time (ties by id), within its window and not older than
 * the retention behind the card's newest earlier event. A retry gets its first delivery's features,
 * unless the original has fallen behind that retention by then: it is forgotten, and the retry sees nothing.
 */
final class HistoryStream {

  static final int CARDS = 5000;
  static final int HOT = 3;
  static final long BASE = PaymentStream.BASE;
  static final long SPAN = 48 * 3_600_000L;
  static final long HOUR = 3_600_000L;
  static final long RETENTION = 25 * HOUR;
  static final int LATEST = 3;

  record Payment(String id, String card, String merchant, double amount, long time, String line) {
  }

  /** The features of one event, as the pipeline of {@link #pipelineYaml} declares them. */
  record Features(long count1h, double spend1h, double spend24h, Double largest24h, Double smallest1h, Double avg24h,
      long merchants24h, long categories24h, List<String> lastMerchants) {
  }

  final List<String> batches = new ArrayList<>();
  /** Every accepted line's id, retries included, in send order. */
  final List<String> sentIds = new ArrayList<>();
  /** Per id, the features of each time it was sent, in send order. */
  final Map<String, List<Features>> truth = new HashMap<>();
  int retries;
  int late;
  int clipped;
  /** Retries that came after their original had fallen behind the retention. */
  int forgotten;

  /** {@code hotShare}: the share of events that go to the three hot cards. */
  HistoryStream(long seed, int events, int batchSize, double hotShare) {
    Random random = new Random(seed);
    List<Payment> sent = new ArrayList<>();
    Map<String, List<Payment>> stored = new HashMap<>();
    List<String> lines = new ArrayList<>();
    for (int i = 0; i < events; i++) {
      Payment p;
      if (random.nextDouble() < 0.02 && !sent.isEmpty()) {
        p = sent.get(Math.max(0, sent.size() - 1 - random.nextInt(Math.min(sent.size(), 3000))));
        retries++;
        List<Payment> before = stored.get(p.card());
        long newest = before.stream().mapToLong(Payment::time).max().orElseThrow();
        if (p.time() < newest - RETENTION) {
          // The history forgot the original: the retry is a new event, behind the cut-off, so it sees nothing.
          truth.get(p.id()).add(new Features(0, 0, 0, null, null, null, 0, 0, List.of()));
          forgotten++;
        } else {
          truth.get(p.id()).add(truth.get(p.id()).get(0));
        }
      } else {
        String card = random.nextDouble() < hotShare ? "H" + random.nextInt(HOT) : "C" + random.nextInt(CARDS);
        String merchant = random.nextDouble() < 0.05 ? "MX" + random.nextInt(10) : "M" + random.nextInt(PaymentStream.MERCHANTS);
        double amount = Math.round((1 + random.nextDouble() * 499) * 100) / 100.0;
        long time = BASE + (long) i * SPAN / events + random.nextInt(5_000);
        if (random.nextDouble() < 0.05) {
          time -= 60_000L + random.nextInt((int) (3 * HOUR));
          late++;
        }
        // Some events share a millisecond with another of their card, so ties are decided by id.
        if (card.startsWith("H") && random.nextDouble() < 0.05 && !sent.isEmpty() && sent.get(sent.size() - 1).card().equals(card)) {
          time = sent.get(sent.size() - 1).time();
        }
        String id = "h" + seed + "-" + i;
        String line = String.format(Locale.ROOT, "{\"txn_id\":\"%s\",\"card_id\":\"%s\",\"merchant_id\":\"%s\",\"amount\":%s,\"ts\":%d}",
            id, card, merchant, Double.toString(amount), time);
        p = new Payment(id, card, merchant, amount, time, line);
        sent.add(p);
        truth.computeIfAbsent(id, k -> new ArrayList<>()).add(features(p, stored.computeIfAbsent(card, c -> new ArrayList<>())));
        stored.get(card).add(p);
      }
      lines.add(p.line());
      sentIds.add(p.id());
      if (lines.size() == batchSize) {
        batches.add(String.join("\n", lines));
        lines.clear();
      }
    }
    if (!lines.isEmpty()) {
      batches.add(String.join("\n", lines));
    }
  }

  private Features features(Payment e, List<Payment> before) {
    long newest = Long.MIN_VALUE;
    for (Payment s : before) {
      newest = Math.max(newest, s.time());
    }
    long cutoff = (before.isEmpty() ? e.time() : newest) - RETENTION;
    if (e.time() - 24 * HOUR < cutoff) {
      clipped++;
    }
    long count1h = 0;
    double spend1h = 0;
    double spend24h = 0;
    long n24h = 0;
    Double largest24h = null;
    Double smallest1h = null;
    Set<String> merchants = new HashSet<>();
    Set<String> categories = new HashSet<>();
    List<Payment> earlier = new ArrayList<>();
    for (Payment s : before) {
      if (!earlier(s, e) || s.time() < cutoff) {
        continue;
      }
      earlier.add(s);
      if (s.time() >= e.time() - HOUR) {
        count1h++;
        spend1h += s.amount();
        smallest1h = smallest1h == null ? s.amount() : Math.min(smallest1h, s.amount());
      }
      if (s.time() >= e.time() - 24 * HOUR) {
        n24h++;
        spend24h += s.amount();
        largest24h = largest24h == null ? s.amount() : Math.max(largest24h, s.amount());
        merchants.add(s.merchant());
        if (!s.merchant().startsWith("MX")) {
          categories.add(PaymentStream.category(Integer.parseInt(s.merchant().substring(1))));
        }
      }
    }
    earlier.sort((a, b) -> earlier(a, b) ? 1 : -1);
    List<String> last = new ArrayList<>();
    for (int i = 0; i < Math.min(LATEST, earlier.size()); i++) {
      last.add(earlier.get(i).merchant());
    }
    return new Features(count1h, spend1h, spend24h, largest24h, smallest1h, n24h == 0 ? null : spend24h / n24h,
        merchants.size(), categories.size(), last);
  }

  /** Whether {@code a} lies strictly before {@code b}: earlier event time, or the same time and a smaller id (bytes). */
  static boolean earlier(Payment a, Payment b) {
    if (a.time() != b.time()) {
      return a.time() < b.time();
    }
    return Arrays.compareUnsigned(a.id().getBytes(StandardCharsets.UTF_8), b.id().getBytes(StandardCharsets.UTF_8)) < 0;
  }

  /** How many output events each id should have on the enriched topic: one per time it was sent. */
  Map<String, Integer> expectedOutputs() {
    Map<String, Integer> out = new HashMap<>();
    sentIds.forEach(id -> out.merge(id, 1, Integer::sum));
    return out;
  }

  static String pipelineYaml(String name, String store) {
    return """
        pipeline: %1$s
        store: %2$s
        schema:
          id: txn_id
          key: card_id
          time: ts
          fields:
            card_id: string
            merchant_id: string
            amount: number
        lookups:
          - {name: merchant, by: merchant_id, fields: [name, category, country, risk], onMissing: pass}
        histories:
          - name: card
            retention: 25h
            features:
              count_1h: {measure: count(), last: 1h}
              spend_1h: {measure: sum(amount), last: 1h}
              spend_24h: {measure: sum(amount), last: 24h}
              largest_24h: {measure: max(amount), last: 24h}
              smallest_1h: {measure: min(amount), last: 1h}
              avg_24h: {measure: avg(amount), last: 24h}
              merchants_24h: {measure: distinct(merchant_id), last: 24h}
              categories_24h: {measure: distinct(merchant.category), last: 24h}
              last_merchants: {latest: merchant_id, n: 3}
        buses:
          ingested: kafka:%1$s.ingested
          enriched: kafka:%1$s.enriched
          updates: kafka:%1$s.updates
          deadLetter: kafka:%1$s.dlq
        """.formatted(name, store);
  }
}
