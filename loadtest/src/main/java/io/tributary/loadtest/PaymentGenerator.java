package io.tributary.loadtest;

import java.util.HashMap;
import java.util.Locale;
import java.util.Map;
import java.util.SplittableRandom;

/**
 * Events of the demo pipeline (examples/payments.yaml) for one benchmark run, and what the
 * aggregates must hold afterwards. Card ids are fresh per run and event times lie in an hour no other
 * run uses, so the aggregates of this run can be compared exactly even on a store that has seen
 * earlier runs. Merchants M0..M99999 and their categories match deploy/local/demo-data.sh.
 */
final class PaymentGenerator {

  static final String[] CATEGORIES = ("food books fuel travel fashion electronics grocery pharmacy games music sports toys garden "
      + "pets beauty home auto hotel cinema taxi").split(" ");
  static final long HOUR = 3_600_000L;
  static final long FIVE_MINUTES = 300_000L;
  /** The event time one run spans at most: short, so that runs one after the other stay near the wall clock. */
  static final long SPAN = 2 * 60_000L;
  static final long MINUTE = 60_000L;

  final String run;
  final long base;
  /** The event time the run spans: events are spread evenly over it, several to a millisecond if need be. */
  final long span;
  final int cards;
  final int merchants;
  final int events;
  private final long seed;

  /** count and total per card (one tumbling hour) and per category and 5-minute hopping window. */
  final Map<String, double[]> byCard = new HashMap<>();
  final Map<String, Map<Long, double[]>> byCategory = new HashMap<>();

  PaymentGenerator(String run, long seed, long base, int events, int cards, int merchants) {
    this.run = run;
    this.events = events;
    this.seed = seed;
    this.cards = cards;
    this.merchants = merchants;
    this.base = base;
    this.span = Math.min(SPAN, events * 10L);
  }

  /** Event {@code i}, as the NDJSON line ingest takes. Also folds it into the expected aggregates. */
  String event(int i) {
    SplittableRandom r = new SplittableRandom(seed * 1_000_003L + i);
    String card = run + "-C" + r.nextInt(cards);
    int merchant = r.nextInt(merchants);
    long cents = 100 + r.nextInt(49_900);
    long time = time(i);
    expect(card, CATEGORIES[merchant % CATEGORIES.length], cents / 100.0, time);
    return String.format(Locale.ROOT, "{\"txn_id\":\"%s-%d\",\"card_id\":\"%s\",\"merchant_id\":\"M%d\",\"amount\":%d.%02d,\"ts\":%d}",
        run, i, card, merchant, cents / 100, cents % 100, time);
  }

  String id(int i) {
    return run + "-" + i;
  }

  long time(int i) {
    return base + i * span / events;
  }

  private void expect(String card, String category, double amount, long time) {
    double[] c = byCard.computeIfAbsent(card, k -> new double[2]);
    c[0]++;
    c[1] += amount;
    long newest = Math.floorDiv(time, MINUTE) * MINUTE;
    for (long start = newest; start > time - FIVE_MINUTES; start -= MINUTE) {
      double[] w = byCategory.computeIfAbsent(category, k -> new HashMap<>()).computeIfAbsent(start, k -> new double[2]);
      w[0]++;
      w[1] += amount;
    }
  }
}
