package io.tributary.common.sql;

import io.vertx.core.buffer.Buffer;
import io.vertx.jdbcclient.spi.JDBCColumnDescriptorProvider;
import io.vertx.jdbcclient.spi.JDBCEncoderImpl;
import io.vertx.sqlclient.Tuple;
import java.sql.SQLException;

/**
 * Hands the statement's plain parameters (numbers, strings, booleans, bytes, nulls) to the driver as
 * they are. The JDBC client's default encoder first asks the driver for each parameter's SQL type,
 * and MariaDB Connector/J answers every such call with an exception (client-side prepared statements
 * carry no parameter metadata): with multi-row upserts of thousands of parameters that cost 48% of the
 * aggregate stage's CPU (docs/BENCHMARKS.md). Dates and other types keep the default encoding.
 * Registered through the client's {@code JDBCEncoder} service-loader hook.
 */
public final class SqlParameterEncoder extends JDBCEncoderImpl {

  @Override
  public Object encode(Tuple input, int pos, JDBCColumnDescriptorProvider provider) throws SQLException {
    Object value = input.getValue(pos - 1);
    if (value == null || value instanceof Number || value instanceof String || value instanceof Boolean
        || value instanceof Buffer || value instanceof byte[]) {
      return value;
    }
    return super.encode(input, pos, provider);
  }
}
