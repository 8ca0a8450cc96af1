package io.tributary.enrich;

import io.tributary.common.pipeline.History;
import io.tributary.common.pipeline.Measure;
import io.tributary.common.sql.SqlPool;
import io.tributary.common.sql.SqlSchema;
import io.vertx.core.Future;
import io.vertx.core.buffer.Buffer;
import io.vertx.core.json.JsonArray;
import io.vertx.sqlclient.Pool;
import io.vertx.sqlclient.Row;
import io.vertx.sqlclient.RowSet;
import io.vertx.sqlclient.SqlConnection;
import io.vertx.sqlclient.Tuple;
import java.nio.charset.StandardCharsets;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.Collections;
import java.util.HashMap;
import java.util.HexFormat;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.function.Supplier;

/**
 * Histories in SQL, one table per history: a row per stored event (key and id digests, the id, time,
 * input position, a column per kept field, the features it got), clustered by (key, time, id) so a
 * window is one sequential range read, and unique by (key, id). One transaction per shard and batch inserts the new events, asks the measures of every
 * new event's windows of the database in one statement ({@code UNION ALL} of indexed range
 * aggregates, so the rows are read next to the data), computes the features and stores them with the
 * events. Rows inserted by the same batch are told apart by their input position: an event sees the
 * stored events that came before it in its shard, as in Redis, where each is computed as it is stored.
 * A lock row per history and shard makes two transactions on one shard (an old and a new owner, or
 * a retry while a timed-out attempt still runs) take turns.
 */
final class SqlHistoryStore implements HistoryStore {

  private static final int EVENTS_PER_STATEMENT = 200;
  private static final String LOCKS = "tributary_history_lock";
  private static final int MAX_ID_LENGTH = 1024;

  private final SqlPool sql;
  private final SqlSchema schema;
  private final String pipeline;

  SqlHistoryStore(SqlPool sql, String dialect, String pipeline) {
    this.sql = sql;
    this.schema = new SqlSchema(sql, dialect);
    this.pipeline = pipeline;
  }

  /** The table of a history and the column of each kept field, worked out once per plan. */
  private record Table(String name, List<String> columns) {
  }

  private final Map<HistoryPlan, Table> tables = new HashMap<>();

  private Table table(HistoryPlan plan) {
    return tables.computeIfAbsent(plan, p -> {
      List<String> columns = new ArrayList<>();
      for (String field : p.fields()) {
        String digest = HexFormat.of().formatHex(SqlSchema.digest(field)).substring(0, 8);
        columns.add(SqlSchema.tableName("v" + digest, field));
      }
      return new Table(SqlSchema.tableName("tributary_h", pipeline, p.history().name()), columns);
    });
  }

  /** Drops the table of each of the pipeline's histories and their shard locks (starting over). */
  static Future<List<String>> remove(SqlPool sql, String dialect, String pipeline, List<History> histories) {
    List<String> tables = histories.stream().map(h -> SqlSchema.tableName("tributary_h", pipeline, h.name())).toList();
    Map<String, Map.Entry<String, Tuple>> rows = new LinkedHashMap<>();
    if (!tables.isEmpty()) {
      rows.put(LOCKS, Map.entry("history_table IN (" + SqlSchema.list(tables.size()) + ")", Tuple.wrap(new ArrayList<Object>(tables))));
    }
    return new SqlSchema(sql, dialect).remove(tables, List.of(), rows);
  }

  @Override
  public Future<Void> init() {
    return Future.succeededFuture();
  }

  /** Creates a history's table (and adds the columns of newly kept fields) before its first batch. */
  Future<Void> init(HistoryPlan plan) {
    Table t = table(plan);
    Map<String, String> columns = new LinkedHashMap<>();
    columns.put("key_hash", "BINARY(16) NOT NULL");
    columns.put("id_hash", "BINARY(16) NOT NULL");
    columns.put("event_id", "VARBINARY(" + MAX_ID_LENGTH + ") NOT NULL");
    columns.put("ts", "BIGINT NOT NULL");
    columns.put("pos", "BIGINT NOT NULL");
    for (int f = 0; f < plan.fields().size(); f++) {
      columns.put(t.columns().get(f), plan.numeric(f) ? "DOUBLE NULL" : "TEXT NULL");
    }
    columns.put("features", "MEDIUMTEXT NULL");
    Map<String, String> lock = new LinkedHashMap<>();
    lock.put("history_table", "VARCHAR(64) NOT NULL");
    lock.put("shard", "INT NOT NULL");
    return schema.ensureTable(LOCKS, lock, List.of("PRIMARY KEY (history_table, shard)"), "history_table").compose(v -> schema.ensureTable(t.name(), columns, List.of("PRIMARY KEY (key_hash, ts, id_hash)",
        "UNIQUE KEY " + SqlSchema.quote(SqlSchema.tableName(t.name(), "id")) + " (key_hash, id_hash)"), "key_hash"));
  }

  /** What one new event needs from the database: its place in the batch, key digest and, after the first query, its cut-off. */
  private static final class Pending {
    final HistoryEvent event;
    final byte[] keyHash;
    long cutoff;

    Pending(HistoryEvent event, byte[] keyHash) {
      this.event = event;
      this.keyHash = keyHash;
    }
  }

  @Override
  public Future<List<String>> record(HistoryPlan plan, int shard, List<HistoryEvent> events) {
    Table t = table(plan);
    Pool pool = sql.get();
    return sql.guard(pool, pool.withConnection(conn -> transaction(conn, () -> lock(conn, t, shard)
        .compose(locked -> stored(conn, t, events)).compose(stored -> {
      Map<String, Pending> first = new LinkedHashMap<>();
      for (HistoryEvent e : events) {
        first.putIfAbsent(ident(e), new Pending(e, SqlSchema.digest(e.key())));
      }
      List<Pending> all = new ArrayList<>(first.values());
      List<Pending> list = new ArrayList<>();
      return insert(conn, plan, t, all.stream().filter(p -> !stored.containsKey(ident(p.event))).toList())
          .compose(v -> cutoffs(conn, plan, t, all))
          .compose(v -> {
            // An event behind its key's cut-off is forgotten even if no batch has deleted it yet.
            for (Pending p : all) {
              String id = ident(p.event);
              if (!stored.containsKey(id) || p.event.time() < p.cutoff) {
                stored.remove(id);
                list.add(p);
              }
            }
            return compute(conn, plan, t, list);
          })
          .compose(answers -> {
            Map<String, String> byId = new HashMap<>(stored);
            for (int i = 0; i < list.size(); i++) {
              byId.put(ident(list.get(i).event), answers.get(i));
            }
            return storeFeatures(conn, t, list, answers).compose(v -> expire(conn, plan, t, list)).map(v -> {
              List<String> out = new ArrayList<>(events.size());
              for (HistoryEvent e : events) {
                out.add(byId.get(ident(e)));
              }
              return out;
            });
          });
    }))));
  }

  /**
   * Runs {@code work} in a READ COMMITTED transaction: the range deletes and inserts of different
   * shards take no gap locks on each other's keys, and each statement sees what earlier holders of
   * the shard's lock committed.
   */
  private static <T> Future<T> transaction(SqlConnection conn, Supplier<Future<T>> work) {
    return conn.query("SET SESSION TRANSACTION ISOLATION LEVEL READ COMMITTED").execute()
        .compose(v -> conn.begin())
        .compose(tx -> work.get()
            .compose(result -> tx.commit().map(result))
            .recover(e -> tx.rollback().transform(ignored -> Future.failedFuture(e))));
  }

  /**
   * Takes the shard's lock row, so two transactions on one shard (an old owner and a new one during
   * a rebalance, or a retry after a timeout while the first attempt still runs) take turns: each
   * sees the events and features the other stored, and none computes from what the other deletes.
   */
  private Future<Void> lock(SqlConnection conn, Table t, int shard) {
    Tuple key = Tuple.of(t.name(), shard);
    return conn.preparedQuery("INSERT IGNORE INTO " + LOCKS + " (history_table, shard) VALUES (?, ?)").execute(key)
        .compose(v -> conn.preparedQuery("SELECT shard FROM " + LOCKS + " WHERE history_table = ? AND shard = ? FOR UPDATE").execute(key))
        .mapEmpty();
  }

  private static String ident(HistoryEvent e) {
    return e.key() + "\u0000" + e.id();
  }

  private Future<Map<String, String>> stored(SqlConnection conn, Table t, List<HistoryEvent> events) {
    List<Future<RowSet<Row>>> reads = new ArrayList<>();
    for (int from = 0; from < events.size(); from += EVENTS_PER_STATEMENT) {
      List<HistoryEvent> slice = events.subList(from, Math.min(from + EVENTS_PER_STATEMENT, events.size()));
      Tuple params = Tuple.tuple();
      slice.forEach(e -> params.addValue(SqlSchema.digest(e.key())).addValue(SqlSchema.digest(e.id())));
      String where = String.join(" OR ", Collections.nCopies(slice.size(), "(key_hash = ? AND id_hash = ?)"));
      reads.add(conn.preparedQuery("SELECT key_hash, id_hash, features FROM " + SqlSchema.quote(t.name()) + " WHERE " + where)
          .execute(params));
    }
    return Future.all(reads).map(done -> {
      Map<String, Buffer> digests = new HashMap<>();
      for (HistoryEvent e : events) {
        digests.put(ident(e), Buffer.buffer(SqlSchema.digest(e.key())).appendBytes(SqlSchema.digest(e.id())));
      }
      Map<Buffer, String> byDigest = new HashMap<>();
      for (Future<RowSet<Row>> read : reads) {
        for (Row row : read.result()) {
          byDigest.put(row.getBuffer(0).copy().appendBuffer(row.getBuffer(1)), row.getString(2));
        }
      }
      Map<String, String> stored = new HashMap<>();
      digests.forEach((ident, digest) -> {
        String features = byDigest.get(digest);
        if (features != null) {
          stored.put(ident, features);
        }
      });
      return stored;
    });
  }

  /** The new events, features to follow in the same transaction; an id too long for the column is answered but not kept. */
  private Future<Void> insert(SqlConnection conn, HistoryPlan plan, Table t, List<Pending> list) {
    List<Pending> kept = list.stream().filter(p -> p.event.id().getBytes(StandardCharsets.UTF_8).length <= MAX_ID_LENGTH).toList();
    StringBuilder columns = new StringBuilder("key_hash, id_hash, event_id, ts, pos");
    t.columns().forEach(c -> columns.append(", ").append(SqlSchema.quote(c)));
    int perRow = 5 + t.columns().size();
    Future<Void> chain = Future.succeededFuture();
    for (int from = 0; from < kept.size(); from += EVENTS_PER_STATEMENT) {
      List<Pending> slice = kept.subList(from, Math.min(from + EVENTS_PER_STATEMENT, kept.size()));
      Tuple params = Tuple.tuple();
      for (Pending p : slice) {
        params.addValue(p.keyHash).addValue(SqlSchema.digest(p.event.id())).addValue(p.event.id()).addValue(p.event.time())
            .addValue(p.event.position());
        for (int f = 0; f < t.columns().size(); f++) {
          params.addValue(column(plan, f, p.event.values().get(f)));
        }
      }
      String statement = "INSERT IGNORE INTO " + SqlSchema.quote(t.name()) + " (" + columns + ") VALUES "
          + SqlSchema.placeholders(slice.size(), perRow);
      chain = chain.compose(v -> conn.preparedQuery(statement).execute(params).mapEmpty());
    }
    return chain;
  }

  private static Object column(HistoryPlan plan, int field, String value) {
    if (value == null || !plan.numeric(field)) {
      return value;
    }
    try {
      double d = Double.parseDouble(value);
      return Double.isFinite(d) ? d : null;
    } catch (NumberFormatException e) {
      return null;
    }
  }

  private static final String BEFORE = " AND (ts < ? OR (ts = ? AND event_id < ?)) AND pos < ?";

  private static void before(Tuple params, HistoryEvent e) {
    params.addValue(e.time()).addValue(e.time()).addValue(e.id()).addValue(e.position());
  }

  /**
   * Each new event's cut-off: the retention behind the newest event of its key stored before it.
   * Older events are forgotten (and deleted at the end of the batch), so what an event sees does not
   * depend on when the deletes ran.
   */
  private Future<Void> cutoffs(SqlConnection conn, HistoryPlan plan, Table t, List<Pending> list) {
    long retention = plan.history().retention().toMillis();
    return slices(list, slice -> {
      Tuple params = Tuple.tuple();
      List<String> parts = new ArrayList<>();
      for (int i = 0; i < slice.size(); i++) {
        parts.add("(SELECT " + i + " AS i, MAX(ts) FROM " + SqlSchema.quote(t.name()) + " WHERE key_hash = ? AND pos < ?)");
        params.addValue(slice.get(i).keyHash).addValue(slice.get(i).event.position());
      }
      return conn.preparedQuery(String.join(" UNION ALL ", parts)).execute(params).map(rows -> {
        for (Row row : rows) {
          Pending p = slice.get(row.getInteger(0));
          Long newest = row.getLong(1);
          p.cutoff = (newest == null ? p.event.time() : newest) - retention;
        }
        return null;
      });
    }).mapEmpty();
  }

  private interface SliceQuery<T> {
    Future<T> run(List<Pending> slice);
  }

  private static <T> Future<List<T>> slices(List<Pending> list, SliceQuery<T> query) {
    List<Future<T>> all = new ArrayList<>();
    Future<Void> chain = Future.succeededFuture();
    for (int from = 0; from < list.size(); from += EVENTS_PER_STATEMENT) {
      List<Pending> slice = list.subList(from, Math.min(from + EVENTS_PER_STATEMENT, list.size()));
      Future<T> result = chain.compose(v -> query.run(slice));
      all.add(result);
      chain = result.mapEmpty();
    }
    return Future.all(all).map(done -> all.stream().map(Future::result).toList());
  }

  /** The features of the new events, one JSON array text each (the format of {@link HistoryPlan}). */
  private Future<List<String>> compute(SqlConnection conn, HistoryPlan plan, Table t, List<Pending> list) {
    return slices(list, slice -> measures(conn, plan, t, slice).compose(measured -> latest(conn, plan, t, slice).map(rows -> {
      List<String> answers = new ArrayList<>(slice.size());
      for (int i = 0; i < slice.size(); i++) {
        JsonArray answer = new JsonArray();
        int m = 0;
        int l = 0;
        for (History.Feature f : plan.history().features().values()) {
          if (f instanceof History.Over over) {
            answer.add(measured.get(i).get(m++));
          } else if (f instanceof History.Latest latest) {
            JsonArray values = new JsonArray();
            for (Row row : rows.get(i).get(l)) {
              values.add(row.getValue(4 + plan.fields().indexOf(latest.field())));
            }
            l++;
            answer.add(values);
          }
        }
        if (plan.history().matches() != null) {
          JsonArray matches = new JsonArray();
          for (Row row : rows.get(i).get(l)) {
            JsonArray match = new JsonArray().add(row.getBuffer(2).toString(StandardCharsets.UTF_8)).add(row.getLong(3));
            for (int f = 0; f < plan.fields().size(); f++) {
              match.add(row.getValue(4 + f));
            }
            matches.add(match);
          }
          answer.add(matches);
        }
        answers.add(answer.encode());
      }
      return answers;
    }))).map(parts -> parts.stream().flatMap(List::stream).toList());
  }

  /** Per event of the slice, the values of its measure features in order, from one statement. */
  private Future<List<List<Object>>> measures(SqlConnection conn, HistoryPlan plan, Table t, List<Pending> slice) {
    List<History.Over> overs = plan.history().features().values().stream()
        .filter(f -> f instanceof History.Over).map(f -> (History.Over) f).toList();
    List<List<Object>> out = new ArrayList<>();
    slice.forEach(p -> out.add(new ArrayList<>()));
    if (overs.isEmpty()) {
      return Future.succeededFuture(out);
    }
    Tuple params = Tuple.tuple();
    List<String> parts = new ArrayList<>();
    for (int i = 0; i < slice.size(); i++) {
      HistoryEvent e = slice.get(i).event;
      for (int w = 0; w < plan.windows().size(); w++) {
        StringBuilder select = new StringBuilder("(SELECT ").append(i).append(" AS i, ").append(w).append(" AS w, COUNT(*)");
        HistoryPlan.Window window = plan.windows().get(w);
        for (int f = 0; f < t.columns().size(); f++) {
          String col = SqlSchema.quote(t.columns().get(f));
          select.append(window.numericFields().contains(f)
              ? ", COUNT(" + col + "), SUM(" + col + "), MIN(" + col + "), MAX(" + col + ")" : ", 0, 0, NULL, NULL");
          select.append(window.distinctFields().contains(f) ? ", COUNT(DISTINCT " + col + ")" : ", 0");
        }
        select.append(" FROM ").append(SqlSchema.quote(t.name())).append(" WHERE key_hash = ? AND ts >= ?").append(BEFORE).append(')');
        parts.add(select.toString());
        params.addValue(slice.get(i).keyHash).addValue(Math.max(e.time() - plan.windows().get(w).last().toMillis(), slice.get(i).cutoff));
        before(params, e);
      }
    }
    return conn.preparedQuery(String.join(" UNION ALL ", parts)).execute(params).map(rows -> {
      Map<Integer, Map<Integer, Row>> byEvent = new HashMap<>();
      for (Row row : rows) {
        byEvent.computeIfAbsent(row.getInteger(0), k -> new HashMap<>()).put(row.getInteger(1), row);
      }
      for (int i = 0; i < slice.size(); i++) {
        for (History.Over over : overs) {
          Row row = byEvent.get(i).get(plan.window(over.last()));
          out.get(i).add(value(plan, over.measure(), row));
        }
      }
      return out;
    });
  }

  /**
   * A measure from a window's row: {@code i, w, count}, then per kept field its numeric count, sum,
   * min, max and distinct count (zeros where the window measures none of them).
   */
  private static Object value(HistoryPlan plan, Measure measure, Row row) {
    if (measure.function() == Measure.Function.COUNT) {
      return row.getLong(2);
    }
    int base = 3 + 5 * plan.fields().indexOf(measure.field());
    long n = row.getLong(base);
    return switch (measure.function()) {
      case SUM -> n == 0 ? 0 : number(row.getValue(base + 1));
      case AVG -> n == 0 ? null : number(row.getValue(base + 1)).doubleValue() / n;
      case MIN -> n == 0 ? null : number(row.getValue(base + 2));
      case MAX -> n == 0 ? null : number(row.getValue(base + 3));
      case DISTINCT -> row.getLong(base + 4);
      case COUNT -> row.getLong(2);
    };
  }

  private static Number number(Object value) {
    if (value instanceof Number n) {
      return n;
    }
    return value == null ? 0 : Double.parseDouble(value.toString());
  }

  /** Per event of the slice, the rows of each latest feature and then of the matches, newest first. */
  private Future<List<List<List<Row>>>> latest(SqlConnection conn, HistoryPlan plan, Table t, List<Pending> slice) {
    List<Integer> limits = new ArrayList<>();
    List<Long> windows = new ArrayList<>();
    for (History.Feature f : plan.history().features().values()) {
      if (f instanceof History.Latest latest) {
        limits.add(latest.count());
        windows.add(null);
      }
    }
    if (plan.history().matches() != null) {
      limits.add(plan.history().matches().limit());
      windows.add(plan.history().matches().last().toMillis());
    }
    List<List<List<Row>>> out = new ArrayList<>();
    for (int i = 0; i < slice.size(); i++) {
      List<List<Row>> perQuery = new ArrayList<>();
      limits.forEach(l -> perQuery.add(new ArrayList<>()));
      out.add(perQuery);
    }
    if (limits.isEmpty()) {
      return Future.succeededFuture(out);
    }
    StringBuilder values = new StringBuilder();
    t.columns().forEach(c -> values.append(", ").append(SqlSchema.quote(c)));
    Tuple params = Tuple.tuple();
    List<String> parts = new ArrayList<>();
    for (int i = 0; i < slice.size(); i++) {
      HistoryEvent e = slice.get(i).event;
      for (int q = 0; q < limits.size(); q++) {
        parts.add("(SELECT " + i + " AS i, " + q + " AS q, event_id, ts" + values + " FROM " + SqlSchema.quote(t.name())
            + " WHERE key_hash = ? AND ts >= ?" + BEFORE + " ORDER BY ts DESC, event_id DESC LIMIT " + limits.get(q) + ")");
        Long last = windows.get(q);
        params.addValue(slice.get(i).keyHash).addValue(last == null ? slice.get(i).cutoff : Math.max(e.time() - last, slice.get(i).cutoff));
        before(params, e);
      }
    }
    return conn.preparedQuery(String.join(" UNION ALL ", parts)).execute(params).map(rows -> {
      for (Row row : rows) {
        out.get(row.getInteger(0)).get(row.getInteger(1)).add(row);
      }
      // UNION ALL keeps no order across its parts: each part's rows come newest first only by sorting here.
      out.forEach(perQuery -> perQuery.forEach(list -> list.sort((a, b) -> {
        int byTime = Long.compare(b.getLong(3), a.getLong(3));
        return byTime != 0 ? byTime : Arrays.compareUnsigned(b.getBuffer(2).getBytes(), a.getBuffer(2).getBytes());
      })));
      return out;
    });
  }

  private Future<Void> storeFeatures(SqlConnection conn, Table t, List<Pending> list, List<String> answers) {
    List<Tuple> updates = new ArrayList<>(list.size());
    for (int i = 0; i < list.size(); i++) {
      updates.add(Tuple.of(answers.get(i), list.get(i).keyHash, SqlSchema.digest(list.get(i).event.id())));
    }
    if (updates.isEmpty()) {
      return Future.succeededFuture();
    }
    return conn.preparedQuery("UPDATE " + SqlSchema.quote(t.name()) + " SET features = ? WHERE key_hash = ? AND id_hash = ?")
        .executeBatch(updates).mapEmpty();
  }

  /** Deletes what lies more than the retention behind each key's newest event. */
  private Future<Void> expire(SqlConnection conn, HistoryPlan plan, Table t, List<Pending> list) {
    Map<Buffer, Long> newest = new LinkedHashMap<>();
    for (Pending p : list) {
      newest.merge(Buffer.buffer(p.keyHash), Math.max(p.event.time(), p.cutoff + plan.history().retention().toMillis()), Math::max);
    }
    List<Tuple> deletes = new ArrayList<>(newest.size());
    newest.forEach((key, time) -> deletes.add(Tuple.of(key.getBytes(), time - plan.history().retention().toMillis())));
    if (deletes.isEmpty()) {
      return Future.succeededFuture();
    }
    return conn.preparedQuery("DELETE FROM " + SqlSchema.quote(t.name()) + " WHERE key_hash = ? AND ts < ?")
        .executeBatch(deletes).mapEmpty();
  }

  @Override
  public Future<Void> close() {
    return sql.close();
  }
}
