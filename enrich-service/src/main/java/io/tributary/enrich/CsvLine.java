package io.tributary.enrich;

import java.util.ArrayList;
import java.util.List;

/** Splits one CSV line (RFC 4180 quoting: "a, b" and "" for a quote). Quoted fields cannot span lines. */
public final class CsvLine {

  private CsvLine() {
  }

  public static final class Malformed extends Exception {
    public Malformed(String message) {
      super(message);
    }
  }

  public static List<String> split(String line) throws Malformed {
    List<String> fields = new ArrayList<>();
    StringBuilder field = new StringBuilder();
    int i = 0;
    int n = line.length();
    while (true) {
      if (i < n && line.charAt(i) == '"') {
        i++;
        while (true) {
          if (i >= n) {
            throw new Malformed("unterminated quoted field");
          }
          char c = line.charAt(i++);
          if (c == '"') {
            if (i < n && line.charAt(i) == '"') {
              field.append('"');
              i++;
            } else {
              break;
            }
          } else {
            field.append(c);
          }
        }
        if (i < n && line.charAt(i) != ',') {
          throw new Malformed("unexpected character after a quoted field at column " + (i + 1));
        }
      } else {
        while (i < n && line.charAt(i) != ',') {
          field.append(line.charAt(i++));
        }
      }
      fields.add(field.toString());
      field.setLength(0);
      if (i >= n) {
        return fields;
      }
      i++;
    }
  }
}
