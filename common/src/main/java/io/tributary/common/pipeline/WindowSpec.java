package io.tributary.common.pipeline;

import java.time.Duration;

/**
 * Event-time windows aligned to the epoch. Tumbling windows have {@code advance == size}; hopping
 * windows of {@code size} start every {@code advance}, so an event belongs to size/advance windows.
 */
public record WindowSpec(Duration size, Duration advance) {

  public static WindowSpec tumbling(Duration size) {
    return new WindowSpec(size, size);
  }

  public static WindowSpec hopping(Duration size, Duration advance) {
    return new WindowSpec(size, advance);
  }

  public boolean isTumbling() {
    return size.equals(advance);
  }
}
