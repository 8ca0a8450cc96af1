package io.tributary.enrich;

import io.tributary.common.pipeline.Lookup;
import io.vertx.core.Future;
import io.vertx.redis.client.Command;
import io.vertx.redis.client.Redis;
import io.vertx.redis.client.Request;
import io.vertx.redis.client.Response;
import java.util.ArrayList;
import java.util.HashMap;
import java.util.HashSet;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Set;

/**
 * Reference data in Redis: records as hashes, allow- and block-lists as sets. {@link #fetch} reads
 * everything one batch of events needs in a single pipelined round trip: one HMGET per distinct
 * record key and one SMISMEMBER per set look-up.
 */
public final class RedisReferenceStore implements ReferenceStore {

  private final Redis redis;
  private final ReferenceKeys keys;

  public RedisReferenceStore(Redis redis, ReferenceKeys keys) {
    this.redis = redis;
    this.keys = keys;
  }

  @Override
  public Future<Void> init() {
    return Future.succeededFuture();
  }

  @Override
  public Future<Fetched> fetch(Map<Lookup, ? extends Set<String>> wanted) {
    List<Request> requests = new ArrayList<>();
    List<Lookup> order = new ArrayList<>();
    List<List<String>> keyOrder = new ArrayList<>();
    wanted.forEach((lookup, keySet) -> {
      if (keySet.isEmpty()) {
        return;
      }
      List<String> list = new ArrayList<>(keySet);
      if (lookup.isSet()) {
        Request smismember = Request.cmd(Command.SMISMEMBER).arg(keys.set(lookup));
        list.forEach(smismember::arg);
        requests.add(smismember);
        order.add(lookup);
        keyOrder.add(list);
      } else {
        for (String key : list) {
          Request hmget = Request.cmd(Command.HMGET).arg(keys.record(lookup, key));
          lookup.fields().forEach(hmget::arg);
          requests.add(hmget);
          order.add(lookup);
          keyOrder.add(List.of(key));
        }
      }
    });
    Map<Lookup, Map<String, Map<String, String>>> records = new HashMap<>();
    Map<Lookup, Set<String>> members = new HashMap<>();
    if (requests.isEmpty()) {
      return Future.succeededFuture(new Fetched(records, members));
    }
    return redis.batch(requests).map(responses -> {
      for (int i = 0; i < responses.size(); i++) {
        Lookup lookup = order.get(i);
        Response response = responses.get(i);
        if (lookup.isSet()) {
          Set<String> in = members.computeIfAbsent(lookup, l -> new HashSet<>());
          List<String> asked = keyOrder.get(i);
          for (int k = 0; k < asked.size(); k++) {
            if (response.get(k).toInteger() == 1) {
              in.add(asked.get(k));
            }
          }
        } else {
          records.computeIfAbsent(lookup, l -> new HashMap<>()).put(keyOrder.get(i).get(0), record(lookup, response));
        }
      }
      return new Fetched(records, members);
    });
  }

  private static Map<String, String> record(Lookup lookup, Response response) {
    Map<String, String> fields = null;
    for (int f = 0; f < lookup.fields().size(); f++) {
      Response value = response.get(f);
      if (value != null) {
        if (fields == null) {
          fields = new LinkedHashMap<>();
        }
        fields.put(lookup.fields().get(f), value.toString());
      }
    }
    return fields;
  }

  // ---- management --------------------------------------------------------------------------

  /** Replaces a record atomically (MULTI: DEL then HSET). */
  @Override
  public Future<Void> putRecord(Lookup lookup, String key, Map<String, String> fields) {
    return redis.batch(List.of(Request.cmd(Command.MULTI), Request.cmd(Command.DEL).arg(keys.record(lookup, key)),
        hset(lookup, key, fields), Request.cmd(Command.EXEC))).mapEmpty();
  }

  private Request hset(Lookup lookup, String key, Map<String, String> fields) {
    Request hset = Request.cmd(Command.HSET).arg(keys.record(lookup, key));
    fields.forEach((f, v) -> hset.arg(f).arg(v));
    return hset;
  }

  private Request sadd(Lookup lookup, List<String> members) {
    Request sadd = Request.cmd(Command.SADD).arg(keys.set(lookup));
    members.forEach(sadd::arg);
    return sadd;
  }

  @Override
  public Future<Map<String, String>> getRecord(Lookup lookup, String key) {
    return redis.send(Request.cmd(Command.HGETALL).arg(keys.record(lookup, key))).map(response -> {
      if (response == null || response.size() == 0) {
        return null;
      }
      Map<String, String> fields = new LinkedHashMap<>();
      for (String field : response.getKeys()) {
        fields.put(field, response.get(field).toString());
      }
      return fields;
    });
  }

  @Override
  public Future<Boolean> deleteRecord(Lookup lookup, String key) {
    return redis.send(Request.cmd(Command.DEL).arg(keys.record(lookup, key))).map(r -> r.toInteger() > 0);
  }

  @Override
  public Future<Void> addMember(Lookup lookup, String key) {
    return redis.send(sadd(lookup, List.of(key))).mapEmpty();
  }

  @Override
  public Future<Boolean> isMember(Lookup lookup, String key) {
    return redis.send(Request.cmd(Command.SISMEMBER).arg(keys.set(lookup)).arg(key)).map(r -> r.toInteger() == 1);
  }

  @Override
  public Future<Boolean> removeMember(Lookup lookup, String key) {
    return redis.send(Request.cmd(Command.SREM).arg(keys.set(lookup)).arg(key)).map(r -> r.toInteger() > 0);
  }

  /** One pipelined round trip: an HSET per record, or one SADD for a set's members. */
  @Override
  public Future<Void> load(Lookup lookup, List<Entry> rows) {
    if (rows.isEmpty()) {
      return Future.succeededFuture();
    }
    List<Request> requests = new ArrayList<>(rows.size());
    if (lookup.isSet()) {
      requests.add(sadd(lookup, rows.stream().map(Entry::key).toList()));
    } else {
      rows.forEach(row -> requests.add(hset(lookup, row.key(), row.fields())));
    }
    return redis.batch(requests).mapEmpty();
  }

  @Override
  public Future<Void> close() {
    return redis.close();
  }
}
