package io.tributary.enrich;

import io.tributary.common.pipeline.Lookup;
import io.tributary.common.pipeline.Store;
import io.tributary.common.sql.SqlPool;
import io.tributary.common.sql.SqlSchema;
import io.vertx.core.Future;
import io.vertx.sqlclient.Pool;
import io.vertx.sqlclient.Row;
import io.vertx.sqlclient.RowSet;
import io.vertx.sqlclient.Tuple;
import java.util.ArrayList;
import java.util.HashMap;
import java.util.HashSet;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Set;

/**
 * Reference data in SQL tables, one per look-up ({@code table:}, default the look-up's name): the
 * look-up's {@code by} field is the primary key, each of its {@code fields} a text column; a set
 * look-up's table has the key column alone. The tables are created, and missing columns added, at
 * start; an existing table keyed that way is used as it is. A batch of events asks each look-up once:
 * {@code SELECT ... WHERE key IN (...)}, in slices of {@value #KEYS_PER_QUERY} keys, the look-ups in
 * parallel. Fields a record look-up does not declare are not stored.
 */
final class SqlReferenceStore implements ReferenceStore {

  static final int MAX_KEY_LENGTH = 512;
  private static final int KEYS_PER_QUERY = 1000;
  private static final int ROWS_PER_STATEMENT = 500;

  private final SqlPool sql;
  private final SqlSchema schema;
  private final List<Lookup> lookups;

  SqlReferenceStore(SqlPool sql, String dialect, List<Lookup> lookups) {
    this.sql = sql;
    this.schema = new SqlSchema(sql, dialect);
    this.lookups = lookups.stream().filter(l -> l.store() == Store.SQL).toList();
  }

  @Override
  public Future<Void> init() {
    Future<Void> chain = Future.succeededFuture();
    for (Lookup lookup : lookups) {
      Map<String, String> columns = new LinkedHashMap<>();
      columns.put(lookup.by(), "VARCHAR(" + MAX_KEY_LENGTH + ") NOT NULL");
      lookup.fields().forEach(f -> columns.put(f, "TEXT NULL"));
      chain = chain.compose(v -> schema.ensureTable(lookup.table(), columns, List.of("PRIMARY KEY (" + SqlSchema.quote(lookup.by()) + ")"),
          SqlSchema.quote(lookup.by())));
    }
    return chain;
  }

  private static String table(Lookup lookup) {
    return SqlSchema.quote(lookup.table());
  }

  private static String key(Lookup lookup) {
    return SqlSchema.quote(lookup.by());
  }

  private static String fieldList(Lookup lookup) {
    StringBuilder out = new StringBuilder();
    lookup.fields().forEach(f -> out.append(", ").append(SqlSchema.quote(f)));
    return out.toString();
  }

  @Override
  public Future<Fetched> fetch(Map<Lookup, ? extends Set<String>> wanted) {
    Map<Lookup, Map<String, Map<String, String>>> records = new HashMap<>();
    Map<Lookup, Set<String>> members = new HashMap<>();
    List<Future<Void>> queries = new ArrayList<>();
    wanted.forEach((lookup, keys) -> {
      // A key longer than the key column cannot be stored, so it is absent.
      List<String> asked = keys.stream().filter(k -> k.length() <= MAX_KEY_LENGTH).toList();
      for (int from = 0; from < asked.size(); from += KEYS_PER_QUERY) {
        List<String> slice = asked.subList(from, Math.min(from + KEYS_PER_QUERY, asked.size()));
        String sql = "SELECT " + key(lookup) + (lookup.isSet() ? "" : fieldList(lookup)) + " FROM " + table(lookup)
            + " WHERE " + key(lookup) + " IN (" + SqlSchema.list(slice.size()) + ")";
        queries.add(exec(sql, Tuple.from(new ArrayList<Object>(slice))).map(rows -> {
          synchronized (records) {
            if (lookup.isSet()) {
              Set<String> in = members.computeIfAbsent(lookup, l -> new HashSet<>());
              rows.forEach(row -> in.add(row.getString(0)));
            } else {
              Map<String, Map<String, String>> found = records.computeIfAbsent(lookup, l -> new HashMap<>());
              rows.forEach(row -> found.put(row.getString(0), fields(lookup, row)));
            }
          }
          return null;
        }));
      }
    });
    return Future.all(queries).map(done -> new Fetched(records, members));
  }

  /** The record's fields with a value, or null when it has none. */
  private static Map<String, String> fields(Lookup lookup, Row row) {
    Map<String, String> fields = null;
    for (int i = 0; i < lookup.fields().size(); i++) {
      String value = row.getString(i + 1);
      if (value != null) {
        if (fields == null) {
          fields = new LinkedHashMap<>();
        }
        fields.put(lookup.fields().get(i), value);
      }
    }
    return fields;
  }

  @Override
  public Future<Void> putRecord(Lookup lookup, String key, Map<String, String> fields) {
    return load(lookup, List.of(new Entry(key, fields)));
  }

  @Override
  public Future<Map<String, String>> getRecord(Lookup lookup, String key) {
    return exec("SELECT " + key(lookup) + fieldList(lookup) + " FROM " + table(lookup) + " WHERE " + key(lookup) + " = ?", Tuple.of(key))
        .map(rows -> rows.size() == 0 ? null : orEmpty(fields(lookup, rows.iterator().next())));
  }

  private static Map<String, String> orEmpty(Map<String, String> fields) {
    return fields == null ? new LinkedHashMap<>() : fields;
  }

  @Override
  public Future<Boolean> deleteRecord(Lookup lookup, String key) {
    return delete(lookup, key);
  }

  @Override
  public Future<Void> addMember(Lookup lookup, String key) {
    return load(lookup, List.of(new Entry(key, Map.of())));
  }

  @Override
  public Future<Boolean> isMember(Lookup lookup, String key) {
    return exec("SELECT 1 FROM " + table(lookup) + " WHERE " + key(lookup) + " = ?", Tuple.of(key))
        .map(rows -> rows.size() > 0);
  }

  @Override
  public Future<Boolean> removeMember(Lookup lookup, String key) {
    return delete(lookup, key);
  }

  private Future<Boolean> delete(Lookup lookup, String key) {
    return exec("DELETE FROM " + table(lookup) + " WHERE " + key(lookup) + " = ?", Tuple.of(key))
        .map(rows -> rows.rowCount() > 0);
  }

  /**
   * Multi-row upserts of at most {@value #ROWS_PER_STATEMENT} rows: a record's declared fields are
   * all written (an absent one as NULL), so the row is replaced whole; members are inserted once.
   */
  @Override
  public Future<Void> load(Lookup lookup, List<Entry> rows) {
    for (Entry row : rows) {
      if (row.key().length() > MAX_KEY_LENGTH) {
        return Future.failedFuture(new IllegalArgumentException("key '" + row.key().substring(0, 40) + "...' is longer than the "
            + MAX_KEY_LENGTH + " characters a SQL look-up key may have"));
      }
    }
    int columns = 1 + (lookup.isSet() ? 0 : lookup.fields().size());
    StringBuilder insert = new StringBuilder(lookup.isSet() ? "INSERT IGNORE INTO " : "INSERT INTO ").append(table(lookup))
        .append(" (").append(key(lookup)).append(lookup.isSet() ? "" : fieldList(lookup)).append(") VALUES ");
    StringBuilder update = new StringBuilder();
    if (!lookup.isSet()) {
      update.append(" ON DUPLICATE KEY UPDATE ");
      for (int i = 0; i < lookup.fields().size(); i++) {
        String f = SqlSchema.quote(lookup.fields().get(i));
        update.append(i == 0 ? "" : ", ").append(f).append(" = VALUES(").append(f).append(')');
      }
    }
    Future<Void> chain = Future.succeededFuture();
    for (int from = 0; from < rows.size(); from += ROWS_PER_STATEMENT) {
      List<Entry> slice = rows.subList(from, Math.min(from + ROWS_PER_STATEMENT, rows.size()));
      List<Object> params = new ArrayList<>(slice.size() * columns);
      for (Entry row : slice) {
        params.add(row.key());
        if (!lookup.isSet()) {
          lookup.fields().forEach(f -> params.add(row.fields().get(f)));
        }
      }
      String sql = insert + SqlSchema.placeholders(slice.size(), columns) + update;
      chain = chain.compose(v -> exec(sql, Tuple.from(params)).<Void>mapEmpty());
    }
    return chain;
  }

  @Override
  public Future<Void> close() {
    return sql.close();
  }

  /** Runs one statement on the current pool; a lost connection gets the pool replaced. */
  private Future<RowSet<Row>> exec(String statement, Tuple params) {
    Pool pool = sql.get();
    return sql.guard(pool, pool.preparedQuery(statement).execute(params));
  }
}
