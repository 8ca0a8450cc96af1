package io.tributary.common.fused;

import io.tributary.common.bus.BusMessage;
import io.tributary.common.input.InputBatch;
import io.tributary.common.input.InputCommit;
import java.util.ArrayList;
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
  private final InputBatch.Span span;
  private final List<BusMessage> carried = new ArrayList<>();
  private Long seek;

  /**
   * @param span from the position of the first source record handed on to the position after the
   *     last source record of the batch
   */
  public Handoff(String source, int shard, long seekCount, InputBatch.Span span) {
    this.source = source;
    this.shard = shard;
    this.seekCount = seekCount;
    this.span = span;
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

  /** The source positions this hand-off covers, whatever each stage drops or dead-letters of it. */
  public InputBatch.Span span() {
    return span;
  }

  void carry(BusMessage message) {
    carried.add(message);
  }

  List<BusMessage> carried() {
    return List.copyOf(carried);
  }

  /** Takes a stage's answer: where it asked for this shard to be re-read from, if it did. */
  void answered(Map<Integer, Long> seeks) {
    Long requested = seeks.get(shard);
    if (requested != null) {
      seek = requested;
    }
  }

  /** Where the last stage asked for the shard to be re-read from; null if it handled the hand-off. */
  Long seek() {
    return seek;
  }
}
