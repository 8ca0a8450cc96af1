package io.tributary.enrich;

import io.tributary.common.pipeline.Lookup;

/**
 * Where reference data lives in Redis (docs/reference-data.md). Pipeline and look-up names are
 * restricted by the parser to letters, digits, {@code _ . -}, and the record key comes last, so no key
 * value can make one key collide with another; Redis commands take keys as separate arguments, so no
 * value can change a command either. No braces: reference keys spread over every Redis Cluster slot.
 */
public final class ReferenceKeys {

  private final String prefix;

  public ReferenceKeys(String pipeline) {
    this.prefix = "tributary:" + pipeline + ":";
  }

  /** A hash holding one reference record: {@code tributary:<pipeline>:ref:<lookup>:<key>}. */
  public String record(Lookup lookup, String key) {
    return prefix + "ref:" + lookup.name() + ":" + key;
  }

  /** The set of an allow- or block-list: {@code tributary:<pipeline>:set:<lookup>}. */
  public String set(Lookup lookup) {
    return prefix + "set:" + lookup.name();
  }
}
