package io.tributary.common.state;

/**
 * Where a partition's state stands: the next offset to apply ({@code -1} when nothing was ever
 * applied) and the partition's stream time, the largest event time applied so far.
 */
public record Position(long nextOffset, long streamTime) {

  public static final Position NONE = new Position(-1, Long.MIN_VALUE);

  public boolean isNone() {
    return nextOffset < 0;
  }
}
