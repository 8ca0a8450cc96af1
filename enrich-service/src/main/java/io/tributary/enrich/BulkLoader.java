package io.tributary.enrich;

import io.tributary.common.pipeline.Lookup;
import io.vertx.core.Future;
import io.vertx.core.Promise;
import io.vertx.core.buffer.Buffer;
import io.vertx.core.json.DecodeException;
import io.vertx.core.json.JsonArray;
import io.vertx.core.json.JsonObject;
import io.vertx.core.parsetools.RecordParser;
import io.vertx.core.streams.ReadStream;
import java.nio.charset.StandardCharsets;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;

/**
 * Streams a bulk load of reference data (NDJSON or CSV) into the store in constant memory: rows are
 * parsed as they arrive, written in pipelined batches of {@value #BATCH_ROWS}, and the request is
 * paused while a batch is in flight, so TCP backpressure, not the heap, absorbs a fast client.
 */
final class BulkLoader {

  static final int BATCH_ROWS = 5000;
  private static final int MAX_LINE_BYTES = 1 << 20;
  private static final int MAX_REPORTED_ERRORS = 100;

  enum Format { NDJSON, CSV }

  /** The answer to the client: counts and the first errors with their line numbers. */
  record Report(long loaded, long rejected, JsonArray errors) {
    JsonObject toJson() {
      return new JsonObject().put("loaded", loaded).put("rejected", rejected).put("errors", errors);
    }
  }

  private final ReferenceStore store;
  private final Lookup lookup;
  private final Format format;
  private final List<ReferenceStore.Entry> batch = new ArrayList<>();
  private final JsonArray errors = new JsonArray();
  private final Promise<Report> done = Promise.promise();
  private final CsvRecords csvRecords;
  private List<String> header;
  private long line;
  private long pendingRows;
  private long loaded;
  private long rejected;
  private RecordParser parser;
  private boolean ended;
  private boolean writing;

  BulkLoader(ReferenceStore store, Lookup lookup, Format format) {
    this.store = store;
    this.lookup = lookup;
    this.format = format;
    this.csvRecords = format == Format.CSV ? new CsvRecords(MAX_LINE_BYTES) : null;
  }

  Future<Report> load(ReadStream<Buffer> body) {
    parser = RecordParser.newDelimited("\n", body).maxRecordSize(MAX_LINE_BYTES);
    parser.exceptionHandler(e -> done.tryFail(new IllegalArgumentException("line " + (line + 1) + ": " + e.getMessage())));
    parser.handler(this::row);
    parser.endHandler(v -> {
      if (csvRecords != null && !done.future().isComplete()) {
        csvEnd();
      }
      ended = true;
      flushIfIdle();
    });
    return done.future();
  }

  private void row(Buffer buffer) {
    line++;
    if (done.future().isComplete()) {
      return;
    }
    if (format == Format.CSV) {
      csvLine(buffer);
    } else {
      ndjsonLine(buffer);
    }
    if (pendingRows >= BATCH_ROWS) {
      flushIfIdle();
    }
  }

  private void ndjsonLine(Buffer buffer) {
    String text = buffer.toString(StandardCharsets.UTF_8);
    if (text.endsWith("\r")) {
      text = text.substring(0, text.length() - 1);
    }
    if (text.isBlank()) {
      return;
    }
    try {
      Map.Entry<String, Map<String, String>> row = ndjson(text);
      add(row.getKey(), row.getValue());
    } catch (IllegalArgumentException e) {
      reject(line, e.getMessage());
    }
  }

  private void csvLine(Buffer buffer) {
    CsvRecords.Row row;
    try {
      row = csvRecords.line(buffer);
    } catch (CsvRecords.TooLong e) {
      done.tryFail(new IllegalArgumentException("line " + e.line() + ": " + e.getMessage()));
      return;
    } catch (CsvRecords.Malformed e) {
      reject(e.line(), e.getMessage());
      return;
    }
    if (row != null) {
      csv(row);
    }
  }

  private void csvEnd() {
    try {
      csvRecords.end();
    } catch (CsvRecords.Malformed e) {
      reject(e.line(), e.getMessage());
    }
  }

  private void reject(long at, String error) {
    rejected++;
    if (errors.size() < MAX_REPORTED_ERRORS) {
      errors.add(new JsonObject().put("line", at).put("error", error));
    }
  }

  private void add(String key, Map<String, String> fields) {
    if (key == null || key.isEmpty()) {
      throw new IllegalArgumentException("row has no key");
    }
    if (!lookup.isSet() && fields.isEmpty()) {
      throw new IllegalArgumentException("row has no field besides the key");
    }
    batch.add(new ReferenceStore.Entry(key, lookup.isSet() ? Map.of() : fields));
    pendingRows++;
  }

  private void flushIfIdle() {
    if (writing) {
      return;
    }
    if (pendingRows == 0) {
      if (ended) {
        done.tryComplete(new Report(loaded, rejected, errors));
      }
      return;
    }
    List<ReferenceStore.Entry> rows = new ArrayList<>(batch);
    batch.clear();
    pendingRows = 0;
    writing = true;
    parser.pause();
    store.load(lookup, rows).onComplete(ar -> {
      writing = false;
      if (ar.failed()) {
        done.tryFail(ar.cause());
        return;
      }
      loaded += rows.size();
      if (ended || pendingRows >= BATCH_ROWS) {
        flushIfIdle();
      }
      parser.resume();
    });
  }

  private Map.Entry<String, Map<String, String>> ndjson(String text) {
    JsonObject object;
    try {
      object = new JsonObject(text);
    } catch (DecodeException | ClassCastException e) {
      throw new IllegalArgumentException("not a JSON object");
    }
    String keyField = object.containsKey("key") ? "key" : lookup.by();
    Object key = object.getValue(keyField);
    if (!(key instanceof String) && !(key instanceof Number)) {
      throw new IllegalArgumentException("no \"key\" (or \"" + lookup.by() + "\") string or number");
    }
    Map<String, String> fields = new LinkedHashMap<>();
    object.forEach(e -> {
      if (!e.getKey().equals(keyField) && e.getValue() != null) {
        fields.put(e.getKey(), e.getValue() instanceof JsonObject || e.getValue() instanceof JsonArray
            ? io.vertx.core.json.Json.encode(e.getValue()) : String.valueOf(e.getValue()));
      }
    });
    return Map.entry(String.valueOf(key), fields);
  }

  private void csv(CsvRecords.Row row) {
    List<String> cells = row.cells();
    if (header == null) {
      header = cells;
      if (!header.contains("key") && !header.contains(lookup.by())) {
        done.tryFail(new IllegalArgumentException("the CSV header needs a 'key' (or '" + lookup.by() + "') column, got " + header));
      }
      return;
    }
    int keyColumn = header.contains("key") ? header.indexOf("key") : header.indexOf(lookup.by());
    Map<String, String> fields = new LinkedHashMap<>();
    for (int i = 0; i < cells.size(); i++) {
      if (i != keyColumn && !cells.get(i).isEmpty()) {
        fields.put(header.get(i), cells.get(i));
      }
    }
    try {
      add(cells.get(keyColumn), fields);
    } catch (IllegalArgumentException e) {
      reject(row.line(), e.getMessage());
    }
  }
}
