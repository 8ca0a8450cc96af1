package io.tributary.common.sql;

import io.vertx.core.Future;
import io.vertx.sqlclient.Pool;
import io.vertx.sqlclient.Row;
import io.vertx.sqlclient.RowSet;
import io.vertx.sqlclient.Tuple;
import java.nio.charset.StandardCharsets;
import java.security.MessageDigest;
import java.security.NoSuchAlgorithmException;
import java.util.HashSet;
import java.util.HexFormat;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Set;

/**
 * What the SQL stores share: names made safe as identifiers, the 16-byte digests that key
 * free-form values (event ids, group keys, set members), and schema creation that can run at every
 * start. Only SQL that SingleStore and MariaDB both accept: {@code CREATE TABLE IF NOT EXISTS},
 * columns added after reading {@code information_schema.COLUMNS} (SingleStore has no
 * {@code ADD COLUMN IF NOT EXISTS}), {@code INSERT ... ON DUPLICATE KEY UPDATE}, {@code INSERT IGNORE}.
 * With {@code dialect: singlestore} a table's {@code SHARD KEY} is declared too (MariaDB refuses it).
 */
public final class SqlSchema {

  /** Identifiers stay within the 64 characters both servers allow. */
  private static final int MAX_IDENTIFIER = 64;

  private final SqlPool sql;
  private final boolean singleStore;

  public SqlSchema(SqlPool sql, String dialect) {
    this.sql = sql;
    if (!dialect.equals("mariadb") && !dialect.equals("singlestore")) {
      throw new IllegalArgumentException("sql.dialect must be mariadb or singlestore, got '" + dialect + "'");
    }
    this.singleStore = dialect.equals("singlestore");
  }

  /** A table name from free parts: letters, digits and {@code _} only, shortened with a digest when too long. */
  public static String tableName(String prefix, String... parts) {
    StringBuilder name = new StringBuilder(prefix);
    for (String part : parts) {
      name.append('_').append(part.replaceAll("[^A-Za-z0-9_]", "_"));
    }
    if (name.length() <= MAX_IDENTIFIER) {
      return name.toString();
    }
    String digest = HexFormat.of().formatHex(digest(name.toString())).substring(0, 12);
    return name.substring(0, MAX_IDENTIFIER - 13) + "_" + digest;
  }

  /** An identifier quoted for both servers. */
  public static String quote(String identifier) {
    return "`" + identifier.replace("`", "``") + "`";
  }

  /** The first 16 bytes of the SHA-256 of a value: a compact key no crafted value can collide with. */
  public static byte[] digest(String value) {
    try {
      byte[] full = MessageDigest.getInstance("SHA-256").digest(value.getBytes(StandardCharsets.UTF_8));
      byte[] out = new byte[16];
      System.arraycopy(full, 0, out, 0, 16);
      return out;
    } catch (NoSuchAlgorithmException e) {
      throw new IllegalStateException("SHA-256 is part of every JVM", e);
    }
  }

  /**
   * Creates the table unless it exists, then adds any of {@code columns} it lacks (a measure added to
   * the pipeline, say). {@code columns} maps names to definitions; {@code keys} holds the
   * PRIMARY KEY and index clauses; {@code shardKey} the columns SingleStore distributes rows by.
   */
  public Future<Void> ensureTable(String table, Map<String, String> columns, List<String> keys, String shardKey) {
    StringBuilder create = new StringBuilder("CREATE TABLE IF NOT EXISTS ").append(quote(table)).append(" (");
    columns.forEach((name, definition) -> create.append(quote(name)).append(' ').append(definition).append(", "));
    create.append(String.join(", ", keys));
    if (singleStore && shardKey != null) {
      create.append(", SHARD KEY (").append(shardKey).append(')');
    }
    create.append(')');
    return run(create.toString(), Tuple.tuple())
        .compose(created -> run("SELECT COLUMN_NAME FROM information_schema.COLUMNS WHERE TABLE_SCHEMA = DATABASE() "
            + "AND TABLE_NAME = ?", Tuple.of(table)))
        .compose(existing -> {
          Set<String> present = new HashSet<>();
          for (Row row : existing) {
            present.add(row.getString(0).toLowerCase());
          }
          Map<String, String> missing = new LinkedHashMap<>();
          columns.forEach((name, definition) -> {
            if (!present.contains(name.toLowerCase())) {
              missing.put(name, definition);
            }
          });
          Future<Void> chain = Future.succeededFuture();
          for (Map.Entry<String, String> column : missing.entrySet()) {
            chain = chain.compose(v -> run("ALTER TABLE " + quote(table) + " ADD COLUMN " + quote(column.getKey()) + " "
                + column.getValue(), Tuple.tuple()).mapEmpty());
          }
          return chain;
        });
  }

  /** Replaces a view (its definition follows the pipeline). */
  public Future<Void> ensureView(String view, String select) {
    return run("CREATE OR REPLACE VIEW " + quote(view) + " AS " + select, Tuple.tuple()).mapEmpty();
  }

  /**
   * Removes what a pipeline keeps in these tables and views (starting over): drops those of
   * {@code tables} and {@code views} that exist, and deletes the pipeline's rows from the shared
   * {@code rowsOf} tables (table name to its WHERE clause and parameters); a shared table that was
   * never created is passed over. Answers a line for each thing removed.
   */
  public Future<List<String>> remove(List<String> tables, List<String> views, Map<String, Map.Entry<String, Tuple>> rowsOf) {
    List<String> names = new java.util.ArrayList<>(tables);
    names.addAll(views);
    names.addAll(rowsOf.keySet());
    List<String> removed = new java.util.ArrayList<>();
    return run("SELECT TABLE_NAME FROM information_schema.TABLES WHERE TABLE_SCHEMA = DATABASE() AND TABLE_NAME IN ("
        + list(names.size()) + ")", Tuple.wrap(new java.util.ArrayList<Object>(names)))
        .compose(found -> {
          Set<String> present = new HashSet<>();
          found.forEach(row -> present.add(row.getString(0)));
          Future<Void> chain = Future.succeededFuture();
          for (String view : views) {
            if (present.contains(view)) {
              chain = chain.compose(v -> run("DROP VIEW IF EXISTS " + quote(view), Tuple.tuple())
                  .map(r -> removed.add("SQL view " + view)).mapEmpty());
            }
          }
          for (String table : tables) {
            if (present.contains(table)) {
              chain = chain.compose(v -> run("DROP TABLE IF EXISTS " + quote(table), Tuple.tuple())
                  .map(r -> removed.add("SQL table " + table)).mapEmpty());
            }
          }
          for (Map.Entry<String, Map.Entry<String, Tuple>> rows : rowsOf.entrySet()) {
            if (present.contains(rows.getKey())) {
              chain = chain.compose(v -> run("DELETE FROM " + quote(rows.getKey()) + " WHERE " + rows.getValue().getKey(),
                  rows.getValue().getValue()).map(r -> {
                    if (r.rowCount() > 0) {
                      removed.add(r.rowCount() + " rows of SQL table " + rows.getKey());
                    }
                    return null;
                  }));
            }
          }
          return chain.map(v -> removed);
        });
  }

  private Future<RowSet<Row>> run(String statement, Tuple params) {
    Pool pool = sql.get();
    return sql.guard(pool, params.size() == 0 ? pool.query(statement).execute() : pool.preparedQuery(statement).execute(params));
  }

  /** {@code n} comma-separated groups of {@code group} placeholders, e.g. {@code (?,?),(?,?)}. */
  public static String placeholders(int n, int perGroup) {
    StringBuilder group = new StringBuilder("(");
    for (int i = 0; i < perGroup; i++) {
      group.append(i == 0 ? "?" : ",?");
    }
    group.append(')');
    StringBuilder out = new StringBuilder(n * (group.length() + 1));
    for (int i = 0; i < n; i++) {
      if (i > 0) {
        out.append(',');
      }
      out.append(group);
    }
    return out.toString();
  }

  /** {@code n} comma-separated placeholders, for {@code IN (...)}. */
  public static String list(int n) {
    StringBuilder out = new StringBuilder(2 * n);
    for (int i = 0; i < n; i++) {
      out.append(i == 0 ? "?" : ",?");
    }
    return out.toString();
  }
}
