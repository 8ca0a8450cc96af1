package io.tributary.common.fused;

import io.tributary.common.bus.BusMessage;
import io.tributary.common.input.InputCommit;
import java.util.ArrayList;
import java.util.HashMap;
import java.util.List;
import java.util.Map;

/**
 * One shard's part of one source batch on its way through a fused chain: what each stage hands to
 * its publisher as the batch's commit. The stages' dead letters ride along ({@link #carry}) to the last
 * stage, which stores them with its state and the batch's end in one atomic step, so they are
 * published exactly once; the last stage's requests to re-read the shard come back the same way.
 */
public final class Handoff implements InputCommit {

  private final String source;
  private final int shard;
  private final long seekCount;
  private final long first;
  private final long end;
  private final List<BusMessage> carried = new ArrayList<>();
  private final Map<Integer, Long> seeks = new HashMap<>();

  /**
   * @param first the position of the first source record handed on
   * @param end the position after the last source record of the batch
   */
  public Handoff(String source, int shard, long seekCount, long first, long end) {
    this.source = source;
    this.shard = shard;
    this.seekCount = seekCount;
    this.first = first;
    this.end = end;
  }

  public String source() {
    return source;
  }

  public int shard() {
    return shard;
  }

  public long seekCount() {
    return seekCount;
  }

  public long first() {
    return first;
  }

  public long end() {
    return end;
  }

  void carry(BusMessage message) {
    carried.add(message);
  }

  List<BusMessage> carried() {
    return List.copyOf(carried);
  }

  void requestSeeks(Map<Integer, Long> requested) {
    seeks.putAll(requested);
  }

  /** Where the last stage asked for shards to be re-read from. */
  Map<Integer, Long> seeks() {
    return seeks;
  }
}
