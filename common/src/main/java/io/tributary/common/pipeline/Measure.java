package io.tributary.common.pipeline;

import java.util.Arrays;
import java.util.Locale;
import java.util.Optional;

/** One measure of an aggregation: {@code count()}, {@code sum(amount)}, {@code distinct(merchant_id)}... */
public record Measure(String name, Function function, String field) {

  public enum Function {
    COUNT(false), SUM(true), MIN(true), MAX(true), AVG(true), DISTINCT(false);

    private final boolean numeric;

    Function(boolean numeric) {
      this.numeric = numeric;
    }

    /** Whether the measured field must be numeric. */
    public boolean numeric() {
      return numeric;
    }

    public String yamlName() {
      return name().toLowerCase(Locale.ROOT);
    }

    public static Optional<Function> fromYaml(String text) {
      return Arrays.stream(values()).filter(f -> f.yamlName().equals(text)).findFirst();
    }
  }

  @Override
  public String toString() {
    return function.yamlName() + "(" + (field == null ? "" : field) + ")";
  }
}
