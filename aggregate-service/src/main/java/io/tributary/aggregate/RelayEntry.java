package io.tributary.aggregate;

import io.tributary.common.bus.BusMessage;
import io.tributary.common.state.WindowKey;
import io.tributary.common.state.WindowValue;
import java.util.List;

/**
 * One applied batch's outputs on their way to the buses: the windows it changed, with their whole
 * new value in its partition, and its messages: its dead letters and, in a fused process, what the
 * stages before it carried along (their dead letters, and the records of in-memory buses that are
 * outputs too). {@code position} is where the batch moved its
 * partition; the relay commits it as the partition's relayed position. {@code distinct} holds the
 * distinct counts after the batch, in window order then measure order; {@code accepted} is when
 * ingest accepted the batch's oldest event (-1 when unknown).
 */
record RelayEntry(int partition, long position, List<Change> windows, List<BusMessage> messages, long accepted,
                  List<Long> distinct) {

  record Change(WindowKey key, WindowValue value) {
  }

  RelayEntry withDistinct(List<Long> counts) {
    return new RelayEntry(partition, position, windows, messages, accepted, List.copyOf(counts));
  }
}
