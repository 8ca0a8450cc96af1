package io.tributary.common.state;

import io.tributary.common.event.EventValidator;
import io.tributary.common.pipeline.Aggregation;
import io.tributary.common.pipeline.Measure;
import java.util.Arrays;
import java.util.LinkedHashMap;
import java.util.Map;

/**
 * The whole value of one window (one partition's partial, or several merged): the event count and,
 * per measure, its sum and value count, or its extreme. Values of the same window add up exactly:
 * one batch's delta onto the stored value, or the partials of several partitions into the window's
 * value. It is stored packed as one text value ({@link #pack}), so a batch writes each changed window
 * once. Distinct counts live beside it in the store (HyperLogLogs); the count is also the window's
 * version, which grows with every change.
 */
public final class WindowValue {

  private long count;
  private final double[] sum;
  private final long[] n;
  private final double[] min;
  private final double[] max;

  private WindowValue(int measures) {
    sum = new double[measures];
    n = new long[measures];
    min = new double[measures];
    max = new double[measures];
    Arrays.fill(min, Double.NaN);
    Arrays.fill(max, Double.NaN);
  }

  public static WindowValue empty(Aggregation aggregation) {
    return new WindowValue(aggregation.measures().size());
  }

  /**
   * A value from its parts, per measure in declaration order (unused slots ignored; NaN for an
   * extreme no event had): how a store with a column per part reads it back.
   */
  public static WindowValue of(Aggregation aggregation, long count, double[] sum, long[] n, double[] min, double[] max) {
    WindowValue value = empty(aggregation);
    value.count = count;
    System.arraycopy(sum, 0, value.sum, 0, value.sum.length);
    System.arraycopy(n, 0, value.n, 0, value.n.length);
    System.arraycopy(min, 0, value.min, 0, value.min.length);
    System.arraycopy(max, 0, value.max, 0, value.max.length);
    return value;
  }

  public long count() {
    return count;
  }

  /** The sum of measure {@code i} (a SUM or AVG). */
  public double sum(int i) {
    return sum[i];
  }

  /** How many values measure {@code i} (a SUM or AVG) counted. */
  public long n(int i) {
    return n[i];
  }

  /** The minimum of measure {@code i} (a MIN), NaN when none. */
  public double min(int i) {
    return min[i];
  }

  /** The maximum of measure {@code i} (a MAX), NaN when none. */
  public double max(int i) {
    return max[i];
  }

  public boolean isEmpty() {
    return count == 0;
  }

  /** Folds one event in: its measured field values as text; a value that is not a finite number is left out of numeric measures. */
  public void add(Aggregation aggregation, Map<String, String> values) {
    count++;
    int i = 0;
    for (Measure m : aggregation.measures().values()) {
      if (m.function().numeric()) {
        double v = number(values.get(m.field()));
        if (!Double.isNaN(v)) {
          switch (m.function()) {
            case SUM, AVG -> {
              sum[i] += v;
              n[i]++;
            }
            case MIN -> min[i] = Double.isNaN(min[i]) ? v : Math.min(min[i], v);
            case MAX -> max[i] = Double.isNaN(max[i]) ? v : Math.max(max[i], v);
            default -> throw new IllegalStateException(m.function().name());
          }
        }
      }
      i++;
    }
  }

  /** Adds another value of the same window into this one. */
  public void mergeIn(WindowValue other) {
    count += other.count;
    for (int i = 0; i < sum.length; i++) {
      sum[i] += other.sum[i];
      n[i] += other.n[i];
      min[i] = Double.isNaN(min[i]) ? other.min[i] : Double.isNaN(other.min[i]) ? min[i] : Math.min(min[i], other.min[i]);
      max[i] = Double.isNaN(max[i]) ? other.max[i] : Double.isNaN(other.max[i]) ? max[i] : Math.max(max[i], other.max[i]);
    }
  }

  /** A new value: this one with {@code other} added; neither changes. */
  public WindowValue plus(WindowValue other) {
    WindowValue out = copy();
    out.mergeIn(other);
    return out;
  }

  public WindowValue copy() {
    WindowValue out = new WindowValue(sum.length);
    out.count = count;
    System.arraycopy(sum, 0, out.sum, 0, sum.length);
    System.arraycopy(n, 0, out.n, 0, n.length);
    System.arraycopy(min, 0, out.min, 0, min.length);
    System.arraycopy(max, 0, out.max, 0, max.length);
    return out;
  }

  /**
   * The stored form: {@code count;m1;m2...} over the measures that keep state, in declaration order:
   * a sum as {@code sum} (or {@code sum/n} when fewer values than events were counted), an extreme
   * as its value or empty when no event had one. Numbers are the IEEE-754 bits in hex: exact, and
   * far cheaper to write and read than decimal text on the hot path.
   */
  public String pack(Aggregation aggregation) {
    StringBuilder out = new StringBuilder(16 + 12 * sum.length).append(count);
    int i = 0;
    for (Measure m : aggregation.measures().values()) {
      switch (m.function()) {
        case SUM, AVG -> {
          out.append(';').append(bits(sum[i]));
          if (n[i] != count) {
            out.append('/').append(n[i]);
          }
        }
        case MIN -> out.append(';').append(Double.isNaN(min[i]) ? "" : bits(min[i]));
        case MAX -> out.append(';').append(Double.isNaN(max[i]) ? "" : bits(max[i]));
        default -> {
        }
      }
      i++;
    }
    return out.toString();
  }

  /** Reads {@link #pack}'s form back; throws {@link IllegalArgumentException} for text of another shape. */
  public static WindowValue unpack(Aggregation aggregation, String text) {
    WindowValue value = empty(aggregation);
    String[] parts = text.split(";", -1);
    try {
      value.count = Long.parseLong(parts[0]);
      int at = 1;
      int i = 0;
      for (Measure m : aggregation.measures().values()) {
        switch (m.function()) {
          case SUM, AVG -> {
            String part = parts[at++];
            int slash = part.indexOf('/');
            value.sum[i] = fromBits(slash < 0 ? part : part.substring(0, slash));
            value.n[i] = slash < 0 ? value.count : Long.parseLong(part.substring(slash + 1));
          }
          case MIN -> value.min[i] = extreme(parts[at++]);
          case MAX -> value.max[i] = extreme(parts[at++]);
          default -> {
          }
        }
        i++;
      }
      if (at != parts.length) {
        throw new IllegalArgumentException("stored window value '" + text + "' has " + parts.length + " parts, expected " + at);
      }
    } catch (NumberFormatException | ArrayIndexOutOfBoundsException e) {
      throw new IllegalArgumentException("stored window value '" + text + "' does not match the measures of " + aggregation.name(), e);
    }
    return value;
  }

  private static double extreme(String part) {
    return part.isEmpty() ? Double.NaN : fromBits(part);
  }

  private static String bits(double v) {
    return Long.toHexString(Double.doubleToRawLongBits(v));
  }

  private static double fromBits(String hex) {
    return Double.longBitsToDouble(Long.parseUnsignedLong(hex, 16));
  }

  /** The measures as the API and the update records show them; {@code distinct} holds the distinct counts by measure name. */
  public Map<String, Object> measures(Aggregation aggregation, Map<String, Long> distinct) {
    Map<String, Object> out = new LinkedHashMap<>();
    int i = 0;
    for (Measure m : aggregation.measures().values()) {
      out.put(m.name(), switch (m.function()) {
        case COUNT -> count;
        case SUM -> sum[i];
        case AVG -> n[i] == 0 ? null : sum[i] / n[i];
        case MIN -> Double.isNaN(min[i]) ? null : min[i];
        case MAX -> Double.isNaN(max[i]) ? null : max[i];
        case DISTINCT -> distinct.getOrDefault(m.name(), 0L);
      });
      i++;
    }
    return out;
  }

  /**
   * A number from text within the events' range ({@link EventValidator#MAX_MAGNITUDE}), or NaN when
   * the text is none: ingest refuses such events, and a value from elsewhere (a nested field of an
   * upstream's record) is skipped like a non-number rather than let a sum become infinite.
   */
  static double number(String text) {
    if (text == null) {
      return Double.NaN;
    }
    try {
      double d = Double.parseDouble(text);
      return Math.abs(d) <= EventValidator.MAX_MAGNITUDE ? d : Double.NaN;
    } catch (NumberFormatException e) {
      return Double.NaN;
    }
  }

  @Override
  public boolean equals(Object o) {
    return o instanceof WindowValue w && count == w.count && Arrays.equals(sum, w.sum) && Arrays.equals(n, w.n)
        && Arrays.equals(min, w.min) && Arrays.equals(max, w.max);
  }

  @Override
  public int hashCode() {
    return Long.hashCode(count) * 31 + Arrays.hashCode(sum);
  }

  @Override
  public String toString() {
    return "WindowValue{count=" + count + ", sum=" + Arrays.toString(sum) + ", n=" + Arrays.toString(n)
        + ", min=" + Arrays.toString(min) + ", max=" + Arrays.toString(max) + "}";
  }
}
