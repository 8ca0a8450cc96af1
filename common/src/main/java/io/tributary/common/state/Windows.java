package io.tributary.common.state;

import io.tributary.common.pipeline.WindowSpec;

/** Window arithmetic on epoch-aligned event-time windows. */
public final class Windows {

  private Windows() {
  }

  /** Start times of the windows holding {@code time}, newest first: size/advance of them. */
  public static long[] starts(WindowSpec spec, long time) {
    long size = spec.size().toMillis();
    long advance = spec.advance().toMillis();
    long newest = Math.floorDiv(time, advance) * advance;
    int count = 0;
    for (long start = newest; start > time - size; start -= advance) {
      count++;
    }
    long[] starts = new long[count];
    for (int i = 0; i < count; i++) {
      starts[i] = newest - i * advance;
    }
    return starts;
  }

  /** The newest window holding {@code time}: the "current" window at that stream time. */
  public static long newestStart(WindowSpec spec, long time) {
    long advance = spec.advance().toMillis();
    return Math.floorDiv(time, advance) * advance;
  }

  /**
   * The stream time the queries reckon retention and the current window from: the newest of the
   * partitions' stream times that are not later than the wall clock plus the schema's
   * {@code maxAhead}. Ingest refuses later events, so only a stream time stored before that guard,
   * or by an input that bypasses it, can be later, and it must not put every other partition's
   * windows behind retention; when all are later, the bound. Long.MIN_VALUE when there are none.
   */
  public static long queryStreamTime(long[] partitionStreamTimes, long nowMillis, long maxAheadMillis) {
    long latest = nowMillis + maxAheadMillis < nowMillis ? Long.MAX_VALUE : nowMillis + maxAheadMillis;
    long newest = Long.MIN_VALUE;
    boolean any = false;
    for (long st : partitionStreamTimes) {
      any = true;
      if (st <= latest) {
        newest = Math.max(newest, st);
      }
    }
    return any && newest == Long.MIN_VALUE ? latest : newest;
  }

  /** Whether a window still takes events at this stream time: until its end plus the allowed lateness. */
  public static boolean open(long start, WindowSpec spec, long latenessMillis, long streamTime) {
    return streamTime < start + spec.size().toMillis() + latenessMillis;
  }
}
