package io.tributary.common.pipeline;

import java.util.Arrays;
import java.util.Locale;
import java.util.Optional;

/** The value types a schema field can declare. */
public enum FieldType {
  STRING, NUMBER, INTEGER, BOOLEAN, TIMESTAMP, OBJECT, ARRAY;

  public String yamlName() {
    return name().toLowerCase(Locale.ROOT);
  }

  public boolean isNumeric() {
    return this == NUMBER || this == INTEGER;
  }

  public static Optional<FieldType> fromYaml(String text) {
    return Arrays.stream(values()).filter(t -> t.yamlName().equals(text)).findFirst();
  }
}
