package io.tributary.enrich;

import io.tributary.common.pipeline.Lookup;
import io.vertx.core.Future;
import java.util.List;
import java.util.Map;
import java.util.Set;

/**
 * Where a pipeline's reference data lives: records (a look-up's fields by key) and allow- or
 * block-lists (set members). Redis and SQL implement it; {@link ReferenceStores} routes each look-up
 * to its store.
 */
public interface ReferenceStore {

  /** Records (null when absent) and memberships for the given keys of each look-up. */
  record Fetched(Map<Lookup, Map<String, Map<String, String>>> records, Map<Lookup, Set<String>> members) {
  }

  /** One row of a bulk load: a record's key and fields, or a set member (no fields). */
  record Entry(String key, Map<String, String> fields) {
  }

  /** Prepares the store (creates SQL tables). */
  Future<Void> init();

  /** Everything one batch of events needs, in one round trip per store. */
  Future<Fetched> fetch(Map<Lookup, ? extends Set<String>> wanted);

  /** Replaces a record. */
  Future<Void> putRecord(Lookup lookup, String key, Map<String, String> fields);

  /** The record, or null. */
  Future<Map<String, String>> getRecord(Lookup lookup, String key);

  /** True when something was deleted. */
  Future<Boolean> deleteRecord(Lookup lookup, String key);

  Future<Void> addMember(Lookup lookup, String key);

  Future<Boolean> isMember(Lookup lookup, String key);

  Future<Boolean> removeMember(Lookup lookup, String key);

  /** Writes a slice of a bulk load: each record's fields set, or the members added. */
  Future<Void> load(Lookup lookup, List<Entry> entries);

  Future<Void> close();
}
