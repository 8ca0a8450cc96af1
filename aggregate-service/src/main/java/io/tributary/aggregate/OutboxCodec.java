package io.tributary.aggregate;

import io.tributary.common.bus.BusMessage;
import io.tributary.common.pipeline.Aggregation;
import io.tributary.common.pipeline.BusRef;
import io.tributary.common.state.OutboxEntry;
import io.tributary.common.state.WindowKey;
import io.tributary.common.state.WindowValue;
import java.io.ByteArrayInputStream;
import java.io.ByteArrayOutputStream;
import java.io.DataInputStream;
import java.io.DataOutputStream;
import java.io.IOException;
import java.io.UncheckedIOException;
import java.nio.charset.StandardCharsets;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;

/**
 * The outbox entry of a batch as the store keeps it: a compact binary form of its {@link RelayEntry}
 * (format version, accepted time, windows with their packed values, messages with their bus, key,
 * value, headers and timestamp). The relay decodes it only after a crash or a rebalance; normally it
 * takes the entry from memory. Entries of format 1 (dead letters only, without bus or timestamp),
 * written before a fused process could carry other outputs, are still read.
 */
final class OutboxCodec {

  private static final int VERSION = 2;
  private static final int DEAD_LETTERS_ONLY = 1;

  private final List<Aggregation> aggregations;
  private final Map<String, Integer> index = new LinkedHashMap<>();
  private final BusRef deadLetterBus;
  /** By name, not by position in a list: a stored entry must find its bus after the pipeline's outputs changed order. */
  private final Map<String, BusRef> buses = new LinkedHashMap<>();

  /** {@code buses}: every bus an entry's messages may go to, the dead-letter bus among them. */
  OutboxCodec(List<Aggregation> aggregations, BusRef deadLetterBus, List<BusRef> buses) {
    this.aggregations = aggregations;
    this.deadLetterBus = deadLetterBus;
    for (int i = 0; i < aggregations.size(); i++) {
      index.put(aggregations.get(i).name(), i);
    }
    buses.forEach(b -> this.buses.put(b.toString(), b));
    this.buses.put(deadLetterBus.toString(), deadLetterBus);
  }

  /** The entry's stored form, or null when the batch has nothing to relay. */
  byte[] encode(RelayEntry entry) {
    if (entry.windows().isEmpty() && entry.messages().isEmpty()) {
      return null;
    }
    ByteArrayOutputStream bytes = new ByteArrayOutputStream(64 + 48 * entry.windows().size());
    try (DataOutputStream out = new DataOutputStream(bytes)) {
      out.writeByte(VERSION);
      out.writeLong(entry.accepted());
      out.writeInt(entry.windows().size());
      for (RelayEntry.Change change : entry.windows()) {
        int aggregation = index.get(change.key().aggregation());
        out.writeShort(aggregation);
        out.writeLong(change.key().start());
        writeString(out, change.key().group());
        writeString(out, change.value().pack(aggregations.get(aggregation)));
      }
      out.writeInt(entry.messages().size());
      for (BusMessage message : entry.messages()) {
        writeString(out, message.bus().toString());
        writeString(out, message.key());
        out.writeInt(message.value().length);
        out.write(message.value());
        out.writeShort(message.headers().size());
        for (Map.Entry<String, String> header : message.headers().entrySet()) {
          writeString(out, header.getKey());
          writeString(out, header.getValue());
        }
        out.writeLong(message.timestamp());
      }
    } catch (IOException e) {
      throw new UncheckedIOException(e);
    }
    return bytes.toByteArray();
  }

  RelayEntry decode(int partition, OutboxEntry stored) {
    try (DataInputStream in = new DataInputStream(new ByteArrayInputStream(stored.payload()))) {
      int version = in.readByte();
      if (version != VERSION && version != DEAD_LETTERS_ONLY) {
        throw new IllegalStateException("outbox entry " + stored.position() + " of partition " + partition
            + " has format " + version + "; this version reads " + DEAD_LETTERS_ONLY + " and " + VERSION);
      }
      long accepted = in.readLong();
      int windowCount = in.readInt();
      List<RelayEntry.Change> windows = new ArrayList<>(windowCount);
      for (int i = 0; i < windowCount; i++) {
        Aggregation aggregation = aggregations.get(in.readShort());
        long start = in.readLong();
        String group = readString(in);
        windows.add(new RelayEntry.Change(new WindowKey(aggregation.name(), start, group), WindowValue.unpack(aggregation, readString(in))));
      }
      int messageCount = in.readInt();
      List<BusMessage> messages = new ArrayList<>(messageCount);
      for (int i = 0; i < messageCount; i++) {
        BusRef bus = version == DEAD_LETTERS_ONLY ? deadLetterBus : bus(readString(in), partition, stored);
        String key = readString(in);
        byte[] value = new byte[in.readInt()];
        in.readFully(value);
        int headerCount = in.readShort();
        Map<String, String> headers = new LinkedHashMap<>();
        for (int h = 0; h < headerCount; h++) {
          headers.put(readString(in), readString(in));
        }
        long timestamp = version == DEAD_LETTERS_ONLY ? -1 : in.readLong();
        messages.add(new BusMessage(bus, key, value, headers, timestamp));
      }
      return new RelayEntry(partition, stored.position(), windows, messages, accepted, stored.distinct());
    } catch (IOException e) {
      throw new UncheckedIOException("outbox entry " + stored.position() + " of partition " + partition + " is damaged", e);
    }
  }

  private BusRef bus(String name, int partition, OutboxEntry stored) {
    BusRef bus = buses.get(name);
    if (bus == null) {
      throw new IllegalStateException("outbox entry " + stored.position() + " of partition " + partition + " holds records for "
          + name + ", which the pipeline no longer writes (its buses: " + buses.keySet() + "); name it an output again to relay them");
    }
    return bus;
  }

  private static void writeString(DataOutputStream out, String value) throws IOException {
    if (value == null) {
      out.writeInt(-1);
      return;
    }
    byte[] bytes = value.getBytes(StandardCharsets.UTF_8);
    out.writeInt(bytes.length);
    out.write(bytes);
  }

  private static String readString(DataInputStream in) throws IOException {
    int length = in.readInt();
    if (length < 0) {
      return null;
    }
    byte[] bytes = new byte[length];
    in.readFully(bytes);
    return new String(bytes, StandardCharsets.UTF_8);
  }
}
