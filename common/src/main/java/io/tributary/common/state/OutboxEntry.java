package io.tributary.common.state;

import java.util.List;

/**
 * One batch's outputs as the store keeps them until they are relayed: the position the batch moved
 * its partition to, the entry as the stage encoded it, and the distinct counts the store computed
 * when it applied the batch (see {@link StateStore.Ok}).
 */
public record OutboxEntry(long position, byte[] payload, List<Long> distinct) {
}
