package io.tributary.common.state;

import io.tributary.common.pipeline.Aggregation;
import io.tributary.common.pipeline.Measure;
import io.tributary.common.redis.RedisClients;
import io.vertx.core.Future;
import io.vertx.core.buffer.Buffer;
import io.vertx.redis.client.Command;
import io.vertx.redis.client.Redis;
import io.vertx.redis.client.Request;
import io.vertx.redis.client.Response;
import java.io.IOException;
import java.io.InputStream;
import java.io.UncheckedIOException;
import java.nio.charset.StandardCharsets;
import java.time.Duration;
import java.util.ArrayList;
import java.util.Collection;
import java.util.HashMap;
import java.util.HashSet;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Objects;
import java.util.Set;

/**
 * Aggregation state in Redis (layout in docs/operations.md). A batch is applied by one call of the
 * {@code tributary_apply} function (resources/io/tributary/common/state/tributary.lua); reads are one
 * pipelined round trip and merge the partitions' partials. Key lifetimes derive from stream time: a
 * window lives until its start plus the retention, in stream time, mapped to a Redis TTL when it is
 * written.
 */
public final class RedisStateStore implements StateStore {

  private static final String FUNCTION = loadFunction();
  private static final int READ_SLICE = 500;

  private final Redis redis;
  private final StateKeys keys;
  private final long dedupMillis;
  private final String keyField;
  private final long maxAheadMillis;
  private final Map<String, Aggregation> aggregations = new LinkedHashMap<>();

  public RedisStateStore(Redis redis, String pipeline, String keyField, Duration maxAhead, List<Aggregation> aggregations) {
    this.redis = redis;
    this.keyField = keyField;
    this.maxAheadMillis = maxAhead.toMillis();
    this.keys = new StateKeys(pipeline);
    this.dedupMillis = aggregations.stream().mapToLong(a -> a.retention().toMillis()).max().orElse(Duration.ofDays(1).toMillis());
    aggregations.forEach(a -> this.aggregations.put(a.name(), a));
  }

  @Override
  public Future<Void> init() {
    return redis.send(Request.cmd(Command.FUNCTION).arg("LOAD").arg("REPLACE").arg(FUNCTION)).mapEmpty();
  }

  /** Removes every key that keeps {@code pipeline}'s aggregation state, and its shape (starting over); answers how many. */
  public static Future<Long> remove(Redis redis, String pipeline) {
    StateKeys keys = new StateKeys(pipeline);
    return RedisClients.unlinkMatching(redis, keys.all())
        .compose(n -> redis.send(Request.cmd(Command.UNLINK).arg(keys.shape())).map(r -> n + r.toLong()));
  }

  @Override
  public Future<String> claimShape(String shape) {
    return redis.send(Request.cmd(Command.SET).arg(keys.shape()).arg(shape).arg("NX").arg("GET"))
        .map(previous -> previous == null ? shape : previous.toString());
  }

  @Override
  public Future<Position> position(int partition) {
    return redis.send(Request.cmd(Command.HMGET).arg(keys.meta(partition)).arg("pos").arg("st")).map(RedisStateStore::position);
  }

  private static Position position(Response r) {
    if (r == null || r.get(0) == null) {
      return Position.NONE;
    }
    return new Position(r.get(0).toLong(), r.get(1) == null ? Long.MIN_VALUE : r.get(1).toLong());
  }

  @Override
  public Future<Stored> read(int partition, Map<Long, List<String>> idsByBucket, Collection<WindowKey> windows) {
    List<Request> requests = new ArrayList<>();
    List<List<String>> idOrder = new ArrayList<>();
    idsByBucket.forEach((bucket, ids) -> {
      Request hmget = Request.cmd(Command.HMGET).arg(keys.seen(partition, bucket));
      ids.forEach(hmget::arg);
      requests.add(hmget);
      idOrder.add(ids);
    });
    Map<String, List<WindowKey>> byHash = new LinkedHashMap<>();
    for (WindowKey w : windows) {
      byHash.computeIfAbsent(keys.windows(partition, w.aggregation(), w.start()), k -> new ArrayList<>()).add(w);
    }
    byHash.forEach((hash, ws) -> {
      Request hmget = Request.cmd(Command.HMGET).arg(hash);
      ws.forEach(w -> hmget.arg(w.group()));
      requests.add(hmget);
    });
    if (requests.isEmpty()) {
      return Future.succeededFuture(new Stored(Set.of(), Map.of()));
    }
    return redis.batch(requests).map(responses -> {
      Set<String> seen = new HashSet<>();
      int at = 0;
      for (List<String> ids : idOrder) {
        Response r = responses.get(at++);
        for (int j = 0; j < ids.size(); j++) {
          if (r.get(j) != null) {
            seen.add(ids.get(j));
          }
        }
      }
      Map<WindowKey, WindowValue> stored = new HashMap<>();
      for (List<WindowKey> ws : byHash.values()) {
        Response r = responses.get(at++);
        for (int j = 0; j < ws.size(); j++) {
          if (r.get(j) != null) {
            WindowKey w = ws.get(j);
            stored.put(w, WindowValue.unpack(aggregations.get(w.aggregation()), r.get(j).toString()));
          }
        }
      }
      return new Stored(seen, stored);
    });
  }

  @Override
  public Future<Applied> apply(int partition, Position expected, BatchWrite write) {
    List<String> keyList = new ArrayList<>();
    Map<String, Integer> keyIndex = new HashMap<>();
    key(keyList, keyIndex, keys.meta(partition));
    key(keyList, keyIndex, keys.outbox(partition));
    long st = write.streamTime();
    List<Object> args = new ArrayList<>();
    args.add(expected.isNone() ? "" : Long.toString(expected.nextOffset()));
    args.add(Long.toString(write.nextOffset()));
    args.add(Long.toString(st));
    args.add(write.relayedUpTo() < 0 ? "" : Long.toString(write.relayedUpTo() + 1));
    args.add(write.outboxEntry() == null ? "" : Buffer.buffer(write.outboxEntry()));
    write.newIds().forEach((bucket, ids) -> {
      args.add("D");
      args.add(key(keyList, keyIndex, keys.seen(partition, bucket)));
      args.add(Long.toString(seenTtl(bucket, st)));
      args.add(Integer.toString(ids.size()));
      args.addAll(ids);
    });
    // One write per window-start hash: every window of a batch that starts together shares its key and TTL.
    Map<String, List<BatchWrite.Window>> byHash = new LinkedHashMap<>();
    for (BatchWrite.Window w : write.windows()) {
      byHash.computeIfAbsent(keys.windows(partition, w.key().aggregation(), w.key().start()), k -> new ArrayList<>()).add(w);
    }
    byHash.forEach((hash, ws) -> {
      BatchWrite.Window first = ws.get(0);
      args.add("W");
      args.add(key(keyList, keyIndex, hash));
      args.add(Long.toString(ttl(first.key().start() + first.aggregation().retention().toMillis(), st)));
      args.add(Integer.toString(ws.size()));
      for (BatchWrite.Window w : ws) {
        args.add(w.key().group());
        args.add(w.value().pack(w.aggregation()));
      }
    });
    for (BatchWrite.Window w : write.windows()) {
      for (Measure m : w.aggregation().measures().values()) {
        if (m.function() == Measure.Function.DISTINCT) {
          List<String> values = w.distinct().getOrDefault(m.name(), List.of());
          args.add("H");
          args.add(key(keyList, keyIndex, keys.distinct(partition, w.key().aggregation(), w.key().start(), m.name(), w.key().group())));
          args.add(Long.toString(ttl(w.key().start() + w.aggregation().retention().toMillis(), st)));
          args.add(Integer.toString(values.size()));
          args.addAll(values);
        }
      }
    }
    Request fcall = Request.cmd(Command.FCALL).arg("tributary_apply").arg(keyList.size());
    keyList.forEach(fcall::arg);
    for (Object arg : args) {
      if (arg instanceof Buffer b) {
        fcall.arg(b);
      } else {
        fcall.arg((String) arg);
      }
    }
    // A Redis restarted without persistence comes back without the function: load it again once.
    return redis.send(fcall).recover(e -> String.valueOf(e.getMessage()).contains("Function not found")
        ? init().compose(v -> redis.send(fcall)) : Future.failedFuture(e)).map(response -> {
      if ("conflict".equals(response.get(0).toString())) {
        String pos = response.get(1).toString();
        String storedSt = response.get(2).toString();
        return new Conflict(pos.isEmpty() ? Position.NONE
            : new Position(Long.parseLong(pos), storedSt.isEmpty() ? Long.MIN_VALUE : Long.parseLong(storedSt)));
      }
      List<Long> distinct = new ArrayList<>(response.size() - 1);
      for (int i = 1; i < response.size(); i++) {
        distinct.add(response.get(i).toLong());
      }
      return new Ok(distinct);
    });
  }

  @Override
  public Future<List<OutboxEntry>> outbox(int partition, long afterPosition) {
    Request xrange = Request.cmd(Command.XRANGE).arg(keys.outbox(partition)).arg((afterPosition + 1) + "-0").arg("+");
    return redis.send(xrange).map(response -> {
      List<OutboxEntry> entries = new ArrayList<>();
      if (response == null) {
        return entries;
      }
      for (Response entry : response) {
        String id = entry.get(0).toString();
        long position = Long.parseLong(id.substring(0, id.indexOf('-')));
        byte[] payload = null;
        List<Long> distinct = new ArrayList<>();
        Response fields = entry.get(1);
        for (int i = 0; i + 1 < fields.size(); i += 2) {
          String name = fields.get(i).toString();
          if (name.equals("p")) {
            payload = fields.get(i + 1).toBytes();
          } else if (name.equals("d")) {
            for (String c : fields.get(i + 1).toString().split(",")) {
              if (!c.isEmpty()) {
                distinct.add(Long.parseLong(c));
              }
            }
          }
        }
        entries.add(new OutboxEntry(position, payload, distinct));
      }
      return entries;
    });
  }

  /**
   * Reads the candidate windows of the range directly: every window start aligned to the advance,
   * overlapping [from, to) and within the retention of the newest stream time.
   */
  @Override
  public Future<List<WindowState>> windows(Aggregation aggregation, String group, long from, long to, int partitions) {
    return streamTime(partitions).compose(streamTime -> {
      if (streamTime == Long.MIN_VALUE) {
        return Future.succeededFuture(List.<WindowState>of());
      }
      long size = aggregation.window().size().toMillis();
      long advance = aggregation.window().advance().toMillis();
      long low = Math.max(from - size + 1, streamTime - aggregation.retention().toMillis());
      long high = Math.min(to - 1, streamTime + size);
      List<WindowKey> targets = new ArrayList<>();
      for (long start = Math.floorDiv(high, advance) * advance; start >= low; start -= advance) {
        targets.add(new WindowKey(aggregation.name(), start, group));
      }
      return merged(aggregation, targets, partitions).map(found -> {
        List<WindowState> out = new ArrayList<>();
        targets.forEach(t -> {
          WindowState w = found.get(t);
          if (w != null) {
            out.add(w);
          }
        });
        return out;
      });
    });
  }

  /**
   * A group of the entity key lives in one partition, the one the producer's partitioner chose; other
   * groups are read from every partition and merged. Reads go in slices of {@value #READ_SLICE}
   * windows, one after the other, to bound each pipelined batch.
   */
  @Override
  public Future<Map<WindowKey, WindowState>> merged(Aggregation aggregation, Collection<WindowKey> windows, int partitions) {
    List<WindowKey> all = new ArrayList<>(windows);
    Map<WindowKey, WindowState> out = new LinkedHashMap<>();
    Future<Void> chain = Future.succeededFuture();
    for (int from = 0; from < all.size(); from += READ_SLICE) {
      List<WindowKey> slice = all.subList(from, Math.min(from + READ_SLICE, all.size()));
      chain = chain.compose(v -> readMerged(aggregation, slice, partitions).map(part -> {
        out.putAll(part);
        return null;
      }));
    }
    return chain.map(v -> out);
  }

  private Future<Map<WindowKey, WindowState>> readMerged(Aggregation aggregation, List<WindowKey> windows, int partitions) {
    boolean keyed = aggregation.groupsByKey(keyField);
    List<String> distinctMeasures = distinctMeasures(aggregation);
    List<Request> requests = new ArrayList<>();
    List<List<Integer>> holders = new ArrayList<>();
    for (WindowKey w : windows) {
      List<Integer> ps = keyed ? List.of(Partitions.of(w.group(), partitions)) : allPartitions(partitions);
      holders.add(ps);
      ps.forEach(p -> requests.add(Request.cmd(Command.HGET).arg(keys.windows(p, aggregation.name(), w.start())).arg(w.group())));
      for (String measure : distinctMeasures) {
        Request pfcount = Request.cmd(Command.PFCOUNT);
        ps.forEach(p -> pfcount.arg(keys.distinct(p, aggregation.name(), w.start(), measure, w.group())));
        requests.add(pfcount);
      }
    }
    if (requests.isEmpty()) {
      return Future.succeededFuture(Map.of());
    }
    return redis.batch(requests).map(responses -> {
      Map<WindowKey, WindowState> out = new LinkedHashMap<>();
      int at = 0;
      for (int i = 0; i < windows.size(); i++) {
        WindowKey w = windows.get(i);
        WindowValue value = null;
        for (int ignored : holders.get(i)) {
          Response r = responses.get(at++);
          if (r != null) {
            WindowValue partial = WindowValue.unpack(aggregation, r.toString());
            value = value == null ? partial : value.plus(partial);
          }
        }
        Map<String, Long> distinct = new HashMap<>();
        for (String measure : distinctMeasures) {
          distinct.put(measure, responses.get(at++).toLong());
        }
        if (value != null) {
          out.put(w, WindowState.of(aggregation, w.group(), w.start(), value, distinct));
        }
      }
      return out;
    });
  }

  @Override
  public Future<List<WindowState>> currentWindow(Aggregation aggregation, int partitions) {
    return streamTime(partitions).compose(streamTime -> {
      if (streamTime == Long.MIN_VALUE) {
        return Future.succeededFuture(List.<WindowState>of());
      }
      long start = Windows.newestStart(aggregation.window(), streamTime);
      List<Request> hashes = new ArrayList<>();
      for (int p = 0; p < partitions; p++) {
        hashes.add(Request.cmd(Command.HGETALL).arg(keys.windows(p, aggregation.name(), start)));
      }
      return redis.batch(hashes).compose(responses -> {
        Map<String, WindowValue> values = new LinkedHashMap<>();
        Map<String, List<Integer>> holders = new LinkedHashMap<>();
        for (int p = 0; p < partitions; p++) {
          Response hash = responses.get(p);
          if (hash == null) {
            continue;
          }
          for (String group : hash.getKeys()) {
            WindowValue partial = WindowValue.unpack(aggregation, hash.get(group).toString());
            values.merge(group, partial, WindowValue::plus);
            holders.computeIfAbsent(group, g -> new ArrayList<>()).add(p);
          }
        }
        return distinctCounts(aggregation, start, holders).map(distinct -> {
          List<WindowState> out = new ArrayList<>(values.size());
          values.forEach((group, value) -> out.add(WindowState.of(aggregation, group, start, value,
              distinct.getOrDefault(group, Map.of()))));
          return out;
        });
      });
    });
  }

  /** The distinct counts of the given groups of one window, each merged over the partitions holding it. */
  private Future<Map<String, Map<String, Long>>> distinctCounts(Aggregation aggregation, long start, Map<String, List<Integer>> holders) {
    List<String> measures = distinctMeasures(aggregation);
    if (measures.isEmpty() || holders.isEmpty()) {
      return Future.succeededFuture(Map.of());
    }
    List<Request> requests = new ArrayList<>();
    holders.forEach((group, ps) -> {
      for (String measure : measures) {
        Request pfcount = Request.cmd(Command.PFCOUNT);
        ps.forEach(p -> pfcount.arg(keys.distinct(p, aggregation.name(), start, measure, group)));
        requests.add(pfcount);
      }
    });
    return redis.batch(requests).map(responses -> {
      Map<String, Map<String, Long>> out = new HashMap<>();
      int at = 0;
      for (String group : holders.keySet()) {
        Map<String, Long> counts = new HashMap<>();
        for (String measure : measures) {
          counts.put(measure, responses.get(at++).toLong());
        }
        out.put(group, counts);
      }
      return out;
    });
  }


  private static List<Integer> allPartitions(int partitions) {
    List<Integer> all = new ArrayList<>(partitions);
    for (int p = 0; p < partitions; p++) {
      all.add(p);
    }
    return all;
  }

  private static List<String> distinctMeasures(Aggregation aggregation) {
    return aggregation.measures().values().stream().filter(m -> m.function() == Measure.Function.DISTINCT).map(Measure::name).toList();
  }

  /** The stream time queries reckon from ({@link Windows#queryStreamTime}), or Long.MIN_VALUE when nothing was applied yet. */
  private Future<Long> streamTime(int partitions) {
    List<Request> metas = new ArrayList<>();
    for (int p = 0; p < partitions; p++) {
      metas.add(Request.cmd(Command.HGET).arg(keys.meta(p)).arg("st"));
    }
    return redis.batch(metas).map(sts -> {
      long[] times = sts.stream().filter(Objects::nonNull).mapToLong(Response::toLong).toArray();
      return Windows.queryStreamTime(times, System.currentTimeMillis(), maxAheadMillis);
    });
  }

  @Override
  public Future<Void> close() {
    return redis.close();
  }

  private static String key(List<String> keyList, Map<String, Integer> index, String key) {
    Integer at = index.get(key);
    if (at == null) {
      keyList.add(key);
      at = keyList.size();
      index.put(key, at);
    }
    return Integer.toString(at);
  }

  /** Remaining life in stream time as a Redis TTL; at least a minute, so a write never lands already expired. */
  private static long ttl(long expiresAtStreamTime, long streamTime) {
    return Math.max(60_000L, expiresAtStreamTime - streamTime);
  }

  /**
   * How long a bucket of decided ids is kept: through the retention after the bucket, in stream time,
   * but never longer than that in wall-clock time, so ids of events from the far future (refused, but
   * recorded) do not stay for decades.
   */
  private long seenTtl(long bucket, long streamTime) {
    long longest = BatchPlan.DEDUP_BUCKET_MILLIS + dedupMillis;
    if (streamTime == Long.MIN_VALUE) {
      return longest;
    }
    return Math.min(longest, ttl(bucket + longest, streamTime));
  }

  private static String loadFunction() {
    try (InputStream in = RedisStateStore.class.getResourceAsStream("tributary.lua")) {
      return new String(in.readAllBytes(), StandardCharsets.UTF_8);
    } catch (IOException e) {
      throw new UncheckedIOException(e);
    }
  }
}
