package io.tributary.enrich;

import io.vertx.core.buffer.Buffer;
import java.io.IOException;
import java.io.Reader;
import java.io.UncheckedIOException;
import java.nio.charset.StandardCharsets;
import java.util.List;
import org.apache.commons.csv.CSVFormat;
import org.apache.commons.csv.CSVParser;
import org.apache.commons.csv.CSVRecord;

/**
 * Turns the lines of a CSV body, as a RecordParser split on "\n" delivers them, into records and their cells (RFC 4180:
 * quoted fields may hold commas, doubled quotes and line breaks), in memory bounded by the size of one record. The first
 * record is the header: every record after it must have as many cells.
 *
 * <p>A record goes on over the next line while one of its quoted fields is open. That is decided by a scan that follows
 * Commons CSV's lexer (a quote opens a field only at the start of the field) rather than by the parity of the quotes
 * seen, because the lexer keeps a stray quote inside an unquoted field ({@code 5" screen}) as a character: parity would
 * take it for an open field and swallow the lines after it. The same scan refuses what would make the lexer read more
 * or less than one record, so that one {@link CSVParser}, fed one complete record at a time, serves the whole body: it
 * never reads past a record's line feed, so it never waits for input on the event loop, and a parser per record would
 * cost several times as much per row (each allocates its own read buffer).
 */
final class CsvRecords {

  /** A record's cells and the line it starts on. */
  record Row(long line, List<String> cells) {
  }

  /** A record that cannot be read; the records after it can (unless it is {@link TooLong}). */
  static class Malformed extends Exception {
    private final long line;

    Malformed(long line, String message) {
      super(message);
      this.line = line;
    }

    long line() {
      return line;
    }
  }

  /** A record over the size bound, most often a quoted field never closed: the rest of the body cannot be trusted. */
  static final class TooLong extends Malformed {
    TooLong(long line, String message) {
      super(line, message);
    }
  }

  private enum Scan { FIELD_START, UNQUOTED, QUOTED, AFTER_QUOTE }

  private static final CSVFormat FORMAT = CSVFormat.RFC4180.builder()
      .setTrim(false)
      .setIgnoreSurroundingSpaces(false)
      .setIgnoreEmptyLines(false)
      .get();

  private final int maxRecordBytes;
  private final OneRecordReader reader = new OneRecordReader();
  private final StringBuilder openRecord = new StringBuilder();
  private CSVParser parser;
  private long line;
  private long recordLine;
  private long recordBytes;
  private int headerCells = -1;
  private boolean open;
  private String problem;

  CsvRecords(int maxRecordBytes) {
    this.maxRecordBytes = maxRecordBytes;
    this.parser = newParser();
  }

  /**
   * Takes the next line, without its "\n"; returns the record it completes, or null when the line is blank outside a
   * record or leaves a quoted field open.
   */
  Row line(Buffer bytes) throws Malformed {
    line++;
    String text = bytes.toString(StandardCharsets.UTF_8);
    if (!open) {
      if (text.isBlank()) {
        return null;
      }
      recordLine = line;
      recordBytes = 0;
      problem = null;
    }
    recordBytes += bytes.length() + (open ? 1 : 0);
    if (recordBytes > maxRecordBytes) {
      throw new TooLong(recordLine, "a CSV record is longer than " + maxRecordBytes + " bytes (a quoted field not closed?)");
    }
    boolean wasOpen = open;
    open = scan(text, wasOpen ? Scan.QUOTED : Scan.FIELD_START);
    if (open) {
      if (wasOpen) {
        openRecord.append('\n');
      }
      openRecord.append(text);
      return null;
    }
    String record = text;
    if (wasOpen) {
      record = openRecord.append('\n').append(text).toString();
      openRecord.setLength(0);
    }
    if (problem != null) {
      throw new Malformed(recordLine, problem);
    }
    List<String> cells = parse(record);
    if (headerCells < 0) {
      headerCells = cells.size();
    } else if (cells.size() != headerCells) {
      throw new Malformed(recordLine, "has " + cells.size() + " columns, the header has " + headerCells);
    }
    return new Row(recordLine, cells);
  }

  /** At the end of the body: refuses a record whose quoted field is still open. */
  void end() throws Malformed {
    if (open) {
      open = false;
      openRecord.setLength(0);
      throw new Malformed(recordLine, "unterminated quoted field: the body ends inside it");
    }
  }

  /** Follows the lexer over one line; returns whether a quoted field is still open at its end. */
  private boolean scan(String text, Scan state) {
    int length = text.length();
    for (int i = 0; i < length; i++) {
      char c = text.charAt(i);
      if (state == Scan.QUOTED) {
        if (c == '"') {
          if (i + 1 < length && text.charAt(i + 1) == '"') {
            i++;
          } else {
            state = Scan.AFTER_QUOTE;
          }
        }
      } else if (c == ',') {
        state = Scan.FIELD_START;
      } else if (c == '\r') {
        if (i != length - 1) {
          noteProblem("a carriage return outside quotes that does not end the line");
        }
      } else if (state == Scan.FIELD_START) {
        state = c == '"' ? Scan.QUOTED : Scan.UNQUOTED;
      } else if (state == Scan.AFTER_QUOTE && !Character.isWhitespace(c)) {
        noteProblem("unexpected character after a quoted field");
        state = Scan.UNQUOTED;
      }
    }
    return state == Scan.QUOTED;
  }

  private void noteProblem(String message) {
    if (problem == null) {
      problem = message;
    }
  }

  private List<String> parse(String record) throws Malformed {
    reader.hold(record);
    try {
      CSVRecord cells = parser.iterator().next();
      return cells.toList();
    } catch (UncheckedIOException e) {
      // Should the lexer still refuse a record the scan let through, it stopped inside it: start over with a new parser.
      parser = newParser();
      throw new Malformed(recordLine, "malformed CSV record: " + e.getCause().getMessage());
    }
  }

  private CSVParser newParser() {
    try {
      return CSVParser.builder().setReader(reader).setFormat(FORMAT).get();
    } catch (IOException e) {
      throw new UncheckedIOException(e);
    }
  }

  /** Gives the parser the record it holds, then a line feed, then nothing: reading further is a bug, not an end. */
  private static final class OneRecordReader extends Reader {
    private String record = "";
    private int position = 1;

    void hold(String record) {
      this.record = record;
      this.position = 0;
    }

    @Override
    public int read(char[] into, int offset, int length) throws IOException {
      if (length == 0) {
        return 0;
      }
      int end = record.length();
      if (position > end) {
        throw new IOException("the parser read past the end of the record");
      }
      int count = Math.min(length, end - position);
      record.getChars(position, position + count, into, offset);
      position += count;
      if (count < length) {
        into[offset + count++] = '\n';
        position++;
      }
      return count;
    }

    @Override
    public void close() {
    }
  }
}
