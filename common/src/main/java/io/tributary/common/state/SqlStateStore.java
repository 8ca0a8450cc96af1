package io.tributary.common.state;

import io.tributary.common.logging.LogFields;
import io.tributary.common.pipeline.Aggregation;
import io.tributary.common.pipeline.Measure;
import io.tributary.common.sql.SqlPool;
import io.tributary.common.sql.SqlSchema;
import io.vertx.core.Future;
import io.vertx.core.Vertx;
import io.vertx.core.buffer.Buffer;
import io.vertx.sqlclient.Pool;
import io.vertx.sqlclient.Row;
import io.vertx.sqlclient.RowSet;
import io.vertx.sqlclient.SqlConnection;
import io.vertx.sqlclient.Tuple;
import java.time.Duration;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.Collection;
import java.util.HashMap;
import java.util.HashSet;
import java.util.HexFormat;
import java.util.LinkedHashMap;
import java.util.LinkedHashSet;
import java.util.List;
import java.util.Map;
import java.util.Set;
import java.util.concurrent.ConcurrentHashMap;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * Aggregation state in SQL (SingleStore, or MariaDB standing in for it), with the contract of
 * {@link StateStore}: one transaction per batch and partition locks the partition's position row
 * ({@code SELECT ... FOR UPDATE}), compares it (fencing), records the batch's event ids, upserts the
 * whole new value of every changed window, adds the distinct values, appends the outbox entry, drops
 * relayed entries and stores the next position and stream time. Layout and isolation in
 * docs/operations.md. Free-form values (event ids, groups, distinct values) are keyed by a 16-byte
 * digest, so keys stay short whatever the data. Windows and ids expire by stream time: a purge runs
 * every {@value #PURGE_SECONDS} s per partition in slices of {@value #PURGE_ROWS} rows, outside the
 * batch transactions.
 */
public final class SqlStateStore implements StateStore {

  private static final Logger LOG = LoggerFactory.getLogger(SqlStateStore.class);
  private static final int ROWS_PER_STATEMENT = 500;
  private static final int PURGE_ROWS = 2000;
  private static final int PURGE_SECONDS = 30;

  static final String POSITIONS = "tributary_position";
  static final String SEEN = "tributary_seen";
  static final String OUTBOX = "tributary_outbox";
  static final String SHAPES = "tributary_shape";

  private final Vertx vertx;
  private final SqlPool sql;
  private final SqlSchema schema;
  private final String pipeline;
  private final String keyField;
  private final long maxAheadMillis;
  private final long dedupMillis;
  private final Map<String, Table> tables = new LinkedHashMap<>();
  /** Stream time per partition this instance applied to: what the purge compares expiries with. */
  private final Map<Integer, Long> streamTimes = new ConcurrentHashMap<>();
  private long purgeTimer = -1;
  private boolean purging;

  /** The window table of one aggregation, and its columns in measure order. */
  private static final class Table {
    final Aggregation aggregation;
    final String name;
    final String distinct;
    final String view;
    final List<String> valueColumns = new ArrayList<>();
    final boolean hasDistinct;

    Table(String pipeline, Aggregation aggregation) {
      this.aggregation = aggregation;
      this.name = SqlSchema.tableName("tributary_w", pipeline, aggregation.name());
      this.distinct = SqlSchema.tableName("tributary_d", pipeline, aggregation.name());
      this.view = SqlSchema.tableName("tributary_v", pipeline, aggregation.name());
      boolean distinctMeasure = false;
      for (Measure m : aggregation.measures().values()) {
        switch (m.function()) {
          case SUM, AVG -> {
            valueColumns.add(m.name() + "_sum");
            valueColumns.add(m.name() + "_n");
          }
          case MIN -> valueColumns.add(m.name() + "_min");
          case MAX -> valueColumns.add(m.name() + "_max");
          case DISTINCT -> distinctMeasure = true;
          default -> {
          }
        }
      }
      this.hasDistinct = distinctMeasure;
    }

    String selectColumns() {
      StringBuilder out = new StringBuilder("partition_id, window_start, group_hash, group_key, events");
      valueColumns.forEach(c -> out.append(", ").append(SqlSchema.quote(c)));
      return out.toString();
    }

    /** The value columns of one window, in {@link #valueColumns} order. */
    void addValues(List<Object> params, WindowValue value) {
      int i = 0;
      for (Measure m : aggregation.measures().values()) {
        switch (m.function()) {
          case SUM, AVG -> {
            params.add(value.sum(i));
            params.add(value.n(i));
          }
          case MIN -> params.add(nullable(value.min(i)));
          case MAX -> params.add(nullable(value.max(i)));
          default -> {
          }
        }
        i++;
      }
    }

    /** A window's value from a row selected with {@link #selectColumns}. */
    WindowValue value(Row row) {
      int size = aggregation.measures().size();
      double[] sum = new double[size];
      long[] n = new long[size];
      double[] min = new double[size];
      double[] max = new double[size];
      Arrays.fill(min, Double.NaN);
      Arrays.fill(max, Double.NaN);
      int column = 5;
      int i = 0;
      for (Measure m : aggregation.measures().values()) {
        switch (m.function()) {
          case SUM, AVG -> {
            sum[i] = number(row.getValue(column++));
            n[i] = row.getLong(column++);
          }
          case MIN -> min[i] = number(row.getValue(column++));
          case MAX -> max[i] = number(row.getValue(column++));
          default -> {
          }
        }
        i++;
      }
      return WindowValue.of(aggregation, row.getLong(4), sum, n, min, max);
    }
  }

  public SqlStateStore(Vertx vertx, SqlPool sql, String dialect, String pipeline, String keyField, Duration maxAhead,
      List<Aggregation> aggregations) {
    this.vertx = vertx;
    this.maxAheadMillis = maxAhead.toMillis();
    this.sql = sql;
    this.schema = new SqlSchema(sql, dialect);
    this.pipeline = pipeline;
    this.keyField = keyField;
    this.dedupMillis = aggregations.stream().mapToLong(a -> a.retention().toMillis()).max().orElse(Duration.ofDays(1).toMillis());
    aggregations.forEach(a -> tables.put(a.name(), new Table(pipeline, a)));
  }

  // ---- schema ------------------------------------------------------------------------------

  @Override
  public Future<Void> init() {
    Map<String, String> position = new LinkedHashMap<>();
    position.put("pipeline", "VARCHAR(200) NOT NULL");
    position.put("partition_id", "INT NOT NULL");
    position.put("pos", "BIGINT NOT NULL");
    position.put("st", "BIGINT NOT NULL");
    Map<String, String> seen = new LinkedHashMap<>();
    seen.put("pipeline", "VARCHAR(200) NOT NULL");
    seen.put("partition_id", "INT NOT NULL");
    seen.put("id_hash", "BINARY(16) NOT NULL");
    seen.put("bucket", "BIGINT NOT NULL");
    Map<String, String> outbox = new LinkedHashMap<>();
    outbox.put("pipeline", "VARCHAR(200) NOT NULL");
    outbox.put("partition_id", "INT NOT NULL");
    outbox.put("position", "BIGINT NOT NULL");
    outbox.put("payload", "LONGBLOB NOT NULL");
    outbox.put("distinct_counts", "TEXT NOT NULL");
    Map<String, String> shape = new LinkedHashMap<>();
    shape.put("pipeline", "VARCHAR(200) NOT NULL");
    shape.put("shape", "VARCHAR(20) NOT NULL");
    Future<Void> chain = schema.ensureTable(SHAPES, shape, List.of("PRIMARY KEY (pipeline)"), "pipeline")
        .compose(v -> schema.ensureTable(POSITIONS, position, List.of("PRIMARY KEY (pipeline, partition_id)"), "pipeline, partition_id"))
        .compose(v -> schema.ensureTable(SEEN, seen, List.of("PRIMARY KEY (pipeline, partition_id, id_hash)",
            "KEY tributary_seen_bucket (pipeline, partition_id, bucket)"), "pipeline, partition_id"))
        .compose(v -> schema.ensureTable(OUTBOX, outbox, List.of("PRIMARY KEY (pipeline, partition_id, position)"),
            "pipeline, partition_id"));
    for (Table t : tables.values()) {
      chain = chain.compose(v -> ensureWindowTables(t));
    }
    return chain.onSuccess(v -> {
      if (purgeTimer < 0) {
        purgeTimer = vertx.setPeriodic(PURGE_SECONDS * 1000L, id -> purge());
      }
    });
  }

  private Future<Void> ensureWindowTables(Table t) {
    Map<String, String> columns = new LinkedHashMap<>();
    columns.put("partition_id", "INT NOT NULL");
    columns.put("window_start", "BIGINT NOT NULL");
    columns.put("group_hash", "BINARY(16) NOT NULL");
    columns.put("group_key", "TEXT NOT NULL");
    columns.put("window_end", "BIGINT NOT NULL");
    columns.put("events", "BIGINT NOT NULL");
    columns.put("expires_st", "BIGINT NOT NULL");
    for (String c : t.valueColumns) {
      columns.put(c, c.endsWith("_n") ? "BIGINT NOT NULL DEFAULT 0" : c.endsWith("_sum") ? "DOUBLE NOT NULL DEFAULT 0" : "DOUBLE NULL");
    }
    Future<Void> windows = schema.ensureTable(t.name, columns, List.of("PRIMARY KEY (partition_id, window_start, group_hash)",
        "KEY " + SqlSchema.quote(SqlSchema.tableName(t.name, "group")) + " (group_hash)", "KEY " + SqlSchema.quote(SqlSchema.tableName(t.name, "expiry")) + " (partition_id, expires_st)"),
        "partition_id");
    Future<Void> distinct = !t.hasDistinct ? windows : windows.compose(v -> {
      Map<String, String> d = new LinkedHashMap<>();
      d.put("partition_id", "INT NOT NULL");
      d.put("window_start", "BIGINT NOT NULL");
      d.put("group_hash", "BINARY(16) NOT NULL");
      d.put("measure", "VARCHAR(100) NOT NULL");
      d.put("value_hash", "BINARY(16) NOT NULL");
      d.put("expires_st", "BIGINT NOT NULL");
      return schema.ensureTable(t.distinct, d, List.of("PRIMARY KEY (partition_id, window_start, group_hash, measure, value_hash)",
          "KEY " + SqlSchema.quote(SqlSchema.tableName(t.distinct, "expiry")) + " (partition_id, expires_st)"), "partition_id");
    });
    return distinct.compose(v -> schema.ensureView(t.view, viewSelect(t)));
  }

  /** The view a BI tool reads: each window merged over its partitions, one column per measure. */
  private static String viewSelect(Table t) {
    StringBuilder select = new StringBuilder("SELECT w.window_start, w.window_end, w.group_key");
    for (Measure m : t.aggregation.measures().values()) {
      String name = SqlSchema.quote(m.name());
      String col = m.name();
      select.append(", ").append(switch (m.function()) {
        case COUNT -> "SUM(w.events) AS " + name;
        case SUM -> "SUM(w." + SqlSchema.quote(col + "_sum") + ") AS " + name;
        case AVG -> "SUM(w." + SqlSchema.quote(col + "_sum") + ") / NULLIF(SUM(w." + SqlSchema.quote(col + "_n") + "), 0) AS " + name;
        case MIN -> "MIN(w." + SqlSchema.quote(col + "_min") + ") AS " + name;
        case MAX -> "MAX(w." + SqlSchema.quote(col + "_max") + ") AS " + name;
        case DISTINCT -> "(SELECT COUNT(DISTINCT d.value_hash) FROM " + SqlSchema.quote(t.distinct) + " d WHERE d.window_start = w.window_start"
            + " AND d.group_hash = w.group_hash AND d.measure = '" + m.name() + "') AS " + name;
      });
    }
    select.append(", SUM(w.events) AS version FROM ").append(SqlSchema.quote(t.name))
        .append(" w GROUP BY w.window_start, w.window_end, w.group_hash, w.group_key");
    return select.toString();
  }

  // ---- the batch path ----------------------------------------------------------------------

  /** Removes every table and row that keeps {@code pipeline}'s aggregation state, and its shape (starting over). */
  public static Future<List<String>> remove(SqlPool sql, String dialect, String pipeline, List<Aggregation> aggregations) {
    List<String> tables = new ArrayList<>();
    List<String> views = new ArrayList<>();
    for (Aggregation a : aggregations) {
      Table t = new Table(pipeline, a);
      tables.add(t.name);
      tables.add(t.distinct);
      views.add(t.view);
    }
    Map<String, Map.Entry<String, Tuple>> rows = new LinkedHashMap<>();
    for (String shared : List.of(POSITIONS, SEEN, OUTBOX, SHAPES)) {
      rows.put(shared, Map.entry("pipeline = ?", Tuple.of(pipeline)));
    }
    return new SqlSchema(sql, dialect).remove(tables, views, rows);
  }

  @Override
  public Future<String> claimShape(String shape) {
    return exec("INSERT IGNORE INTO " + SHAPES + " (pipeline, shape) VALUES (?, ?)", Tuple.of(pipeline, shape))
        .compose(v -> exec("SELECT shape FROM " + SHAPES + " WHERE pipeline = ?", Tuple.of(pipeline)))
        .map(rows -> rows.iterator().next().getString(0));
  }

  @Override
  public Future<Position> position(int partition) {
    return exec("SELECT pos, st FROM " + POSITIONS + " WHERE pipeline = ? AND partition_id = ?", Tuple.of(pipeline, partition))
        .map(rows -> {
          if (rows.size() == 0) {
            return Position.NONE;
          }
          Row row = rows.iterator().next();
          Position p = new Position(row.getLong(0), row.getLong(1));
          streamTimes.put(partition, p.streamTime());
          return p;
        });
  }

  @Override
  public Future<Stored> read(int partition, Map<Long, List<String>> idsByBucket, Collection<WindowKey> windows) {
    Future<Set<String>> seen = seen(partition, idsByBucket);
    Future<Map<WindowKey, WindowValue>> stored = storedWindows(partition, windows);
    return Future.all(seen, stored).map(done -> new Stored(seen.result(), stored.result()));
  }

  private Future<Set<String>> seen(int partition, Map<Long, List<String>> idsByBucket) {
    Map<String, String> byHash = new HashMap<>();
    Map<String, byte[]> digests = new HashMap<>();
    idsByBucket.values().forEach(ids -> ids.forEach(id -> {
      byte[] digest = SqlSchema.digest(id);
      String hex = hex(digest);
      byHash.put(hex, id);
      digests.put(hex, digest);
    }));
    if (byHash.isEmpty()) {
      return Future.succeededFuture(Set.of());
    }
    List<String> hashes = new ArrayList<>(byHash.keySet());
    List<Future<RowSet<Row>>> slices = new ArrayList<>();
    for (int from = 0; from < hashes.size(); from += ROWS_PER_STATEMENT) {
      List<String> slice = hashes.subList(from, Math.min(from + ROWS_PER_STATEMENT, hashes.size()));
      List<Object> params = new ArrayList<>(slice.size() + 2);
      params.add(pipeline);
      params.add(partition);
      slice.forEach(h -> params.add(digests.get(h)));
      slices.add(exec("SELECT id_hash FROM " + SEEN + " WHERE pipeline = ? AND partition_id = ? AND id_hash IN ("
          + SqlSchema.list(slice.size()) + ")", Tuple.from(params)));
    }
    return Future.all(slices).map(done -> {
      Set<String> out = new HashSet<>();
      for (Future<RowSet<Row>> slice : slices) {
        for (Row row : slice.result()) {
          out.add(byHash.get(hex(row.getBuffer(0))));
        }
      }
      return out;
    });
  }

  /** The stored values of these windows of one partition: one query per aggregation and slice of groups. */
  private Future<Map<WindowKey, WindowValue>> storedWindows(int partition, Collection<WindowKey> windows) {
    Map<String, Map<String, List<WindowKey>>> byAggregation = new LinkedHashMap<>();
    for (WindowKey w : windows) {
      byAggregation.computeIfAbsent(w.aggregation(), a -> new HashMap<>())
          .computeIfAbsent(hex(SqlSchema.digest(w.group())), h -> new ArrayList<>()).add(w);
    }
    List<Future<Map<WindowKey, WindowValue>>> reads = new ArrayList<>();
    byAggregation.forEach((name, byGroup) -> {
      Table t = tables.get(name);
      List<String> groups = new ArrayList<>(byGroup.keySet());
      for (int from = 0; from < groups.size(); from += ROWS_PER_STATEMENT) {
        List<String> slice = groups.subList(from, Math.min(from + ROWS_PER_STATEMENT, groups.size()));
        List<Object> params = new ArrayList<>(slice.size() + 1);
        params.add(partition);
        slice.forEach(h -> params.add(unhex(h)));
        reads.add(exec("SELECT " + t.selectColumns() + " FROM " + SqlSchema.quote(t.name)
                + " WHERE partition_id = ? AND group_hash IN (" + SqlSchema.list(slice.size()) + ")", Tuple.from(params)).map(rows -> {
              Map<WindowKey, WindowValue> out = new HashMap<>();
              for (Row row : rows) {
                WindowKey key = new WindowKey(name, row.getLong(1), row.getString(3));
                if (byGroup.getOrDefault(hex(row.getBuffer(2)), List.of()).contains(key)) {
                  out.put(key, t.value(row));
                }
              }
              return out;
            }));
      }
    });
    return Future.all(reads).map(done -> {
      Map<WindowKey, WindowValue> out = new HashMap<>();
      reads.forEach(r -> out.putAll(r.result()));
      return out;
    });
  }

  @Override
  public Future<Applied> apply(int partition, Position expected, BatchWrite write) {
    Pool pool = sql.get();
    return sql.guard(pool, pool.withTransaction(conn -> conn.preparedQuery("SELECT pos, st FROM " + POSITIONS + " WHERE pipeline = ? AND partition_id = ? FOR UPDATE")
        .execute(Tuple.of(pipeline, partition))
        .compose(rows -> {
          Position stored = rows.size() == 0 ? Position.NONE
              : new Position(rows.iterator().next().getLong(0), rows.iterator().next().getLong(1));
          if (stored.nextOffset() != expected.nextOffset()) {
            return Future.succeededFuture((Applied) new Conflict(stored));
          }
          return writeBatch(conn, partition, write).map(distinct -> (Applied) new Ok(distinct));
        })))
        .onSuccess(applied -> {
          if (applied instanceof Ok) {
            streamTimes.put(partition, write.streamTime());
          }
        });
  }

  private Future<List<Long>> writeBatch(SqlConnection conn, int partition, BatchWrite write) {
    Future<Void> chain = insertSeen(conn, partition, write);
    Map<String, List<BatchWrite.Window>> byAggregation = new LinkedHashMap<>();
    write.windows().forEach(w -> byAggregation.computeIfAbsent(w.key().aggregation(), a -> new ArrayList<>()).add(w));
    for (Map.Entry<String, List<BatchWrite.Window>> e : byAggregation.entrySet()) {
      Table t = tables.get(e.getKey());
      chain = chain.compose(v -> upsertWindows(conn, partition, t, e.getValue(), write.streamTime()));
      if (t.hasDistinct) {
        chain = chain.compose(v -> insertDistinct(conn, partition, t, e.getValue()));
      }
    }
    return chain.compose(v -> distinctCounts(conn, partition, write))
        .compose(distinct -> {
          Future<Void> outbox = write.outboxEntry() == null ? Future.succeededFuture()
              : conn.preparedQuery("INSERT INTO " + OUTBOX + " (pipeline, partition_id, position, payload, distinct_counts) VALUES (?,?,?,?,?)")
                  .execute(Tuple.of(pipeline, partition, write.nextOffset(), write.outboxEntry(), joined(distinct))).mapEmpty();
          return outbox
              .compose(v -> write.relayedUpTo() < 0 ? Future.succeededFuture()
                  : conn.preparedQuery("DELETE FROM " + OUTBOX + " WHERE pipeline = ? AND partition_id = ? AND position <= ?")
                      .execute(Tuple.of(pipeline, partition, write.relayedUpTo())).mapEmpty())
              .compose(v -> conn.preparedQuery("INSERT INTO " + POSITIONS + " (pipeline, partition_id, pos, st) VALUES (?,?,?,?) "
                      + "ON DUPLICATE KEY UPDATE pos = VALUES(pos), st = VALUES(st)")
                  .execute(Tuple.of(pipeline, partition, write.nextOffset(), write.streamTime())))
              .map(v -> distinct);
        });
  }

  private Future<Void> insertSeen(SqlConnection conn, int partition, BatchWrite write) {
    List<Object[]> rows = new ArrayList<>();
    write.newIds().forEach((bucket, ids) -> ids.forEach(id -> rows.add(new Object[] {pipeline, partition, SqlSchema.digest(id), bucket})));
    return insertRows(conn, "INSERT IGNORE INTO " + SEEN + " (pipeline, partition_id, id_hash, bucket) VALUES ", 4, rows, "");
  }

  private Future<Void> upsertWindows(SqlConnection conn, int partition, Table t, List<BatchWrite.Window> windows, long streamTime) {
    List<Object[]> rows = new ArrayList<>(windows.size());
    for (BatchWrite.Window w : windows) {
      List<Object> row = new ArrayList<>(7 + t.valueColumns.size());
      row.add(partition);
      row.add(w.key().start());
      row.add(SqlSchema.digest(w.key().group()));
      row.add(w.key().group());
      row.add(w.key().start() + t.aggregation.window().size().toMillis());
      row.add(w.value().count());
      row.add(w.key().start() + t.aggregation.retention().toMillis());
      t.addValues(row, w.value());
      rows.add(row.toArray());
    }
    StringBuilder columns = new StringBuilder("partition_id, window_start, group_hash, group_key, window_end, events, expires_st");
    StringBuilder update = new StringBuilder(" ON DUPLICATE KEY UPDATE events = VALUES(events), expires_st = VALUES(expires_st)");
    for (String c : t.valueColumns) {
      columns.append(", ").append(SqlSchema.quote(c));
      update.append(", ").append(SqlSchema.quote(c)).append(" = VALUES(").append(SqlSchema.quote(c)).append(')');
    }
    return insertRows(conn, "INSERT INTO " + SqlSchema.quote(t.name) + " (" + columns + ") VALUES ", 7 + t.valueColumns.size(), rows,
        update.toString());
  }

  private Future<Void> insertDistinct(SqlConnection conn, int partition, Table t, List<BatchWrite.Window> windows) {
    List<Object[]> rows = new ArrayList<>();
    for (BatchWrite.Window w : windows) {
      byte[] group = SqlSchema.digest(w.key().group());
      long expires = w.key().start() + t.aggregation.retention().toMillis();
      w.distinct().forEach((measure, values) -> new HashSet<>(values).forEach(value ->
          rows.add(new Object[] {partition, w.key().start(), group, measure, SqlSchema.digest(value), expires})));
    }
    return insertRows(conn, "INSERT IGNORE INTO " + SqlSchema.quote(t.distinct)
        + " (partition_id, window_start, group_hash, measure, value_hash, expires_st) VALUES ", 6, rows, "");
  }

  /** Multi-row inserts of at most {@value #ROWS_PER_STATEMENT} rows each, one after the other on the transaction's connection. */
  private static Future<Void> insertRows(SqlConnection conn, String insert, int columns, List<Object[]> rows, String suffix) {
    Future<Void> chain = Future.succeededFuture();
    for (int from = 0; from < rows.size(); from += ROWS_PER_STATEMENT) {
      List<Object[]> slice = rows.subList(from, Math.min(from + ROWS_PER_STATEMENT, rows.size()));
      List<Object> params = new ArrayList<>(slice.size() * columns);
      slice.forEach(r -> params.addAll(Arrays.asList(r)));
      String sql = insert + SqlSchema.placeholders(slice.size(), columns) + suffix;
      chain = chain.compose(v -> conn.preparedQuery(sql).execute(Tuple.from(params)).mapEmpty());
    }
    return chain;
  }

  /** The distinct counts of the changed windows after the batch, in write order then measure order (see {@link StateStore.Ok}). */
  private Future<List<Long>> distinctCounts(SqlConnection conn, int partition, BatchWrite write) {
    Map<String, List<BatchWrite.Window>> withDistinct = new LinkedHashMap<>();
    write.windows().stream().filter(w -> tables.get(w.key().aggregation()).hasDistinct)
        .forEach(w -> withDistinct.computeIfAbsent(w.key().aggregation(), a -> new ArrayList<>()).add(w));
    if (withDistinct.isEmpty()) {
      return Future.succeededFuture(List.of());
    }
    Map<String, Long> counts = new HashMap<>();
    Future<Void> chain = Future.succeededFuture();
    for (Map.Entry<String, List<BatchWrite.Window>> e : withDistinct.entrySet()) {
      Table t = tables.get(e.getKey());
      List<String> groups = e.getValue().stream().map(w -> hex(SqlSchema.digest(w.key().group()))).distinct().toList();
      for (int from = 0; from < groups.size(); from += ROWS_PER_STATEMENT) {
        List<String> slice = groups.subList(from, Math.min(from + ROWS_PER_STATEMENT, groups.size()));
        List<Object> params = new ArrayList<>();
        params.add(partition);
        slice.forEach(g -> params.add(unhex(g)));
        chain = chain.compose(v -> conn.preparedQuery("SELECT window_start, group_hash, measure, COUNT(*) FROM " + SqlSchema.quote(t.distinct)
                + " WHERE partition_id = ? AND group_hash IN (" + SqlSchema.list(slice.size()) + ") GROUP BY window_start, group_hash, measure")
            .execute(Tuple.from(params))
            .map(rows -> {
              for (Row row : rows) {
                counts.put(t.aggregation.name() + "|" + row.getLong(0) + "|" + hex(row.getBuffer(1)) + "|" + row.getString(2), row.getLong(3));
              }
              return null;
            }));
      }
    }
    return chain.map(v -> {
      List<Long> out = new ArrayList<>();
      for (BatchWrite.Window w : write.windows()) {
        Table t = tables.get(w.key().aggregation());
        if (!t.hasDistinct) {
          continue;
        }
        String group = hex(SqlSchema.digest(w.key().group()));
        for (Measure m : t.aggregation.measures().values()) {
          if (m.function() == Measure.Function.DISTINCT) {
            out.add(counts.getOrDefault(w.key().aggregation() + "|" + w.key().start() + "|" + group + "|" + m.name(), 0L));
          }
        }
      }
      return out;
    });
  }

  @Override
  public Future<List<OutboxEntry>> outbox(int partition, long afterPosition) {
    return exec("SELECT position, payload, distinct_counts FROM " + OUTBOX
            + " WHERE pipeline = ? AND partition_id = ? AND position > ? ORDER BY position", Tuple.of(pipeline, partition, afterPosition))
        .map(rows -> {
          List<OutboxEntry> out = new ArrayList<>();
          for (Row row : rows) {
            List<Long> distinct = new ArrayList<>();
            for (String c : row.getString(2).split(",")) {
              if (!c.isEmpty()) {
                distinct.add(Long.parseLong(c));
              }
            }
            out.add(new OutboxEntry(row.getLong(0), row.getBuffer(1).getBytes(), distinct));
          }
          return out;
        });
  }

  // ---- reads -------------------------------------------------------------------------------

  @Override
  public Future<List<WindowState>> windows(Aggregation aggregation, String group, long from, long to, int partitions) {
    return streamTime().compose(streamTime -> {
      if (streamTime == Long.MIN_VALUE) {
        return Future.succeededFuture(List.<WindowState>of());
      }
      long size = aggregation.window().size().toMillis();
      long low = Math.max(from - size + 1, streamTime - aggregation.retention().toMillis());
      long high = Math.min(to - 1, streamTime + size);
      Table t = tables.get(aggregation.name());
      return exec("SELECT " + t.selectColumns() + " FROM " + SqlSchema.quote(t.name)
              + " WHERE group_hash = ? AND window_start >= ? AND window_start <= ? ORDER BY window_start DESC, partition_id", Tuple.of(SqlSchema.digest(group), low, high))
          .compose(rows -> merge(t, rows, partitions));
    });
  }

  @Override
  public Future<Map<WindowKey, WindowState>> merged(Aggregation aggregation, Collection<WindowKey> windows, int partitions) {
    Table t = tables.get(aggregation.name());
    Set<String> byGroup = new LinkedHashSet<>();
    windows.forEach(w -> byGroup.add(hex(SqlSchema.digest(w.group()))));
    List<String> groups = new ArrayList<>(byGroup);
    List<Future<List<WindowState>>> reads = new ArrayList<>();
    for (int from = 0; from < groups.size(); from += ROWS_PER_STATEMENT) {
      List<String> slice = groups.subList(from, Math.min(from + ROWS_PER_STATEMENT, groups.size()));
      List<Object> params = new ArrayList<>();
      slice.forEach(g -> params.add(unhex(g)));
      reads.add(exec("SELECT " + t.selectColumns() + " FROM " + SqlSchema.quote(t.name)
              + " WHERE group_hash IN (" + SqlSchema.list(slice.size()) + ") ORDER BY window_start DESC, partition_id", Tuple.from(params)).compose(rows -> merge(t, rows, partitions)));
    }
    return Future.all(reads).map(done -> {
      Map<WindowKey, WindowState> out = new LinkedHashMap<>();
      for (Future<List<WindowState>> read : reads) {
        for (WindowState w : read.result()) {
          WindowKey key = new WindowKey(w.aggregation(), w.start(), w.group());
          if (windows.contains(key)) {
            out.put(key, w);
          }
        }
      }
      return out;
    });
  }

  @Override
  public Future<List<WindowState>> currentWindow(Aggregation aggregation, int partitions) {
    return streamTime().compose(streamTime -> {
      if (streamTime == Long.MIN_VALUE) {
        return Future.succeededFuture(List.<WindowState>of());
      }
      Table t = tables.get(aggregation.name());
      return exec("SELECT " + t.selectColumns() + " FROM " + SqlSchema.quote(t.name)
              + " WHERE window_start = ? ORDER BY partition_id", Tuple.of(Windows.newestStart(aggregation.window(), streamTime)))
          .compose(rows -> merge(t, rows, partitions));
    });
  }

  /**
   * Merges the rows of each window over the partitions holding it, in row order, and adds its
   * distinct counts. Rows of a group of the entity key from another partition than the one the
   * producer's partitioner chose (left by a change of partition count) are not part of its value.
   */
  private Future<List<WindowState>> merge(Table t, RowSet<Row> rows, int partitions) {
    boolean keyed = t.aggregation.groupsByKey(keyField);
    Map<WindowKey, WindowValue> values = new LinkedHashMap<>();
    Map<WindowKey, byte[]> hashes = new HashMap<>();
    for (Row row : rows) {
      String group = row.getString(3);
      if (keyed && row.getInteger(0) != Partitions.of(group, partitions)) {
        continue;
      }
      WindowKey key = new WindowKey(t.aggregation.name(), row.getLong(1), group);
      values.merge(key, t.value(row), WindowValue::plus);
      hashes.putIfAbsent(key, row.getBuffer(2).getBytes());
    }
    if (!t.hasDistinct || values.isEmpty()) {
      List<WindowState> out = new ArrayList<>(values.size());
      values.forEach((k, v) -> out.add(WindowState.of(t.aggregation, k.group(), k.start(), v, Map.of())));
      return Future.succeededFuture(out);
    }
    List<Object> params = new ArrayList<>();
    Set<String> distinctGroups = new HashSet<>();
    hashes.values().forEach(h -> {
      if (distinctGroups.add(hex(h))) {
        params.add(h);
      }
    });
    return exec("SELECT window_start, group_hash, measure, COUNT(DISTINCT value_hash) FROM " + SqlSchema.quote(t.distinct)
            + " WHERE group_hash IN (" + SqlSchema.list(params.size()) + ") GROUP BY window_start, group_hash, measure", Tuple.from(params))
        .map(counted -> {
          Map<String, Map<String, Long>> counts = new HashMap<>();
          for (Row row : counted) {
            counts.computeIfAbsent(row.getLong(0) + "|" + hex(row.getBuffer(1)), k -> new HashMap<>()).put(row.getString(2), row.getLong(3));
          }
          List<WindowState> out = new ArrayList<>(values.size());
          values.forEach((k, v) -> out.add(WindowState.of(t.aggregation, k.group(), k.start(), v,
              counts.getOrDefault(k.start() + "|" + hex(hashes.get(k)), Map.of()))));
          return out;
        });
  }

  /** The largest stream time of any partition, or Long.MIN_VALUE when nothing was applied yet. */
  private Future<Long> streamTime() {
    return exec("SELECT st FROM " + POSITIONS + " WHERE pipeline = ? AND st IS NOT NULL", Tuple.of(pipeline))
        .map(rows -> {
          long[] times = new long[rows.size()];
          int i = 0;
          for (Row row : rows) {
            times[i++] = row.getLong(0);
          }
          return Windows.queryStreamTime(times, System.currentTimeMillis(), maxAheadMillis);
        });
  }

  // ---- expiry ------------------------------------------------------------------------------

  /**
   * Deletes what each partition's stream time has put past retention, one partition and one bounded
   * slice after another, never in a batch's transaction. The expired keys are found with a plain
   * (non-locking) read of the expiry index and deleted by primary key: a {@code DELETE ... WHERE
   * expires_st < ?} lets the optimiser walk the partition's primary key instead and wait on the rows
   * a batch holds, stalling it (measured: 10 s apply timeouts on the SQL aggregate benchmark).
   */
  private void purge() {
    if (purging) {
      return;
    }
    purging = true;
    Future<Void> chain = Future.succeededFuture();
    for (Map.Entry<Integer, Long> e : streamTimes.entrySet()) {
      int partition = e.getKey();
      long st = e.getValue();
      for (Table t : tables.values()) {
        chain = chain.compose(v -> purgeWindows(t.name, partition, st));
        if (t.hasDistinct) {
          chain = chain.compose(v -> purgeWindows(t.distinct, partition, st));
        }
      }
      long oldestBucket = st - dedupMillis - BatchPlan.DEDUP_BUCKET_MILLIS;
      chain = chain.compose(v -> purgeSeen(partition, oldestBucket))
          .recover(failure -> {
            LogFields.forPartition(partition, () -> LOG.warn("purge of partition {} failed, retried in {} s: {}", partition, PURGE_SECONDS,
                failure.getMessage()));
            return Future.succeededFuture();
          });
    }
    chain.onComplete(ar -> purging = false);
  }

  /** Windows expire by start (every window of one start ends, and expires, together): delete whole starts by key prefix. */
  private Future<Void> purgeWindows(String table, int partition, long streamTime) {
    return exec("SELECT DISTINCT window_start FROM " + SqlSchema.quote(table) + " WHERE partition_id = ? AND expires_st < ? "
        + "ORDER BY window_start LIMIT 10", Tuple.of(partition, streamTime))
        .compose(rows -> {
          Future<Void> chain = Future.succeededFuture();
          for (Row row : rows) {
            long start = row.getLong(0);
            chain = chain.compose(v -> exec("DELETE FROM " + SqlSchema.quote(table) + " WHERE partition_id = ? AND window_start = ? "
                + "AND expires_st < ? LIMIT " + PURGE_ROWS, Tuple.of(partition, start, streamTime)).mapEmpty());
          }
          return chain;
        });
  }

  private Future<Void> purgeSeen(int partition, long oldestBucket) {
    return exec("SELECT id_hash FROM " + SEEN + " WHERE pipeline = ? AND partition_id = ? AND bucket < ? LIMIT " + PURGE_ROWS,
        Tuple.of(pipeline, partition, oldestBucket))
        .compose(rows -> {
          if (rows.size() == 0) {
            return Future.succeededFuture();
          }
          List<Object> params = new ArrayList<>(rows.size() + 2);
          params.add(pipeline);
          params.add(partition);
          rows.forEach(row -> params.add(row.getValue(0)));
          return exec("DELETE FROM " + SEEN + " WHERE pipeline = ? AND partition_id = ? AND id_hash IN "
              + SqlSchema.placeholders(1, rows.size()), Tuple.from(params)).mapEmpty();
        });
  }

  @Override
  public Future<Void> close() {
    if (purgeTimer >= 0) {
      vertx.cancelTimer(purgeTimer);
    }
    return sql.close();
  }

  /** Runs one statement on the current pool; a lost connection gets the pool replaced. */
  private Future<RowSet<Row>> exec(String statement, Tuple params) {
    Pool pool = sql.get();
    return sql.guard(pool, pool.preparedQuery(statement).execute(params));
  }

  // ---- helpers -----------------------------------------------------------------------------

  private static Object nullable(double v) {
    return Double.isNaN(v) ? null : v;
  }

  private static double number(Object value) {
    return value == null ? Double.NaN : ((Number) value).doubleValue();
  }

  private static String joined(List<Long> counts) {
    StringBuilder out = new StringBuilder();
    counts.forEach(c -> out.append(out.isEmpty() ? "" : ",").append(c));
    return out.toString();
  }

  private static String hex(Buffer bytes) {
    return hex(bytes.getBytes());
  }

  private static String hex(byte[] bytes) {
    return HexFormat.of().formatHex(bytes);
  }

  private static byte[] unhex(String hex) {
    return HexFormat.of().parseHex(hex);
  }

}
