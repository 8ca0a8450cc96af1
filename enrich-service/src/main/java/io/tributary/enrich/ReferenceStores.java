package io.tributary.enrich;

import io.tributary.common.config.ServiceConfig;
import io.tributary.common.pipeline.Lookup;
import io.tributary.common.pipeline.Pipeline;
import io.tributary.common.pipeline.Store;
import io.tributary.common.redis.RedisClients;
import io.tributary.common.sql.SqlClients;
import io.vertx.core.Future;
import io.vertx.core.Vertx;
import java.util.ArrayList;
import java.util.EnumMap;
import java.util.HashMap;
import java.util.List;
import java.util.Map;
import java.util.Set;

/**
 * The one place where each look-up's {@code store} becomes a reference store: a client is made only
 * for the stores the pipeline's look-ups use, and every call goes to the look-up's own store. A
 * batch's fetch asks every store at once and merges the answers.
 */
final class ReferenceStores implements ReferenceStore {

  private final Map<Store, ReferenceStore> stores = new EnumMap<>(Store.class);

  ReferenceStores(Vertx vertx, ServiceConfig config, Pipeline pipeline) {
    for (Lookup lookup : pipeline.lookups()) {
      stores.computeIfAbsent(lookup.store(), kind -> switch (kind) {
        case REDIS -> new RedisReferenceStore(RedisClients.create(vertx, config), new ReferenceKeys(pipeline.name()));
        case SQL -> new SqlReferenceStore(SqlClients.create(vertx, config), config.get("sql.dialect"), pipeline.lookups());
      });
    }
  }

  private ReferenceStore of(Lookup lookup) {
    return stores.get(lookup.store());
  }

  @Override
  public Future<Void> init() {
    return Future.all(stores.values().stream().map(ReferenceStore::init).toList()).mapEmpty();
  }

  @Override
  public Future<Fetched> fetch(Map<Lookup, ? extends Set<String>> wanted) {
    if (stores.size() == 1) {
      return stores.values().iterator().next().fetch(wanted);
    }
    Map<Store, Map<Lookup, Set<String>>> byStore = new EnumMap<>(Store.class);
    wanted.forEach((lookup, keys) -> byStore.computeIfAbsent(lookup.store(), s -> new HashMap<>()).put(lookup, keys));
    List<Future<Fetched>> answers = new ArrayList<>();
    byStore.forEach((store, part) -> answers.add(stores.get(store).fetch(part)));
    return Future.all(answers).map(done -> {
      Map<Lookup, Map<String, Map<String, String>>> records = new HashMap<>();
      Map<Lookup, Set<String>> members = new HashMap<>();
      answers.forEach(a -> {
        records.putAll(a.result().records());
        members.putAll(a.result().members());
      });
      return new Fetched(records, members);
    });
  }

  @Override
  public Future<Void> putRecord(Lookup lookup, String key, Map<String, String> fields) {
    return of(lookup).putRecord(lookup, key, fields);
  }

  @Override
  public Future<Map<String, String>> getRecord(Lookup lookup, String key) {
    return of(lookup).getRecord(lookup, key);
  }

  @Override
  public Future<Boolean> deleteRecord(Lookup lookup, String key) {
    return of(lookup).deleteRecord(lookup, key);
  }

  @Override
  public Future<Void> addMember(Lookup lookup, String key) {
    return of(lookup).addMember(lookup, key);
  }

  @Override
  public Future<Boolean> isMember(Lookup lookup, String key) {
    return of(lookup).isMember(lookup, key);
  }

  @Override
  public Future<Boolean> removeMember(Lookup lookup, String key) {
    return of(lookup).removeMember(lookup, key);
  }

  @Override
  public Future<Void> load(Lookup lookup, List<Entry> rows) {
    return of(lookup).load(lookup, rows);
  }

  @Override
  public Future<Void> close() {
    return Future.all(stores.values().stream().map(ReferenceStore::close).toList()).mapEmpty();
  }
}
