package io.tributary.common.state;

import io.tributary.common.pipeline.Aggregation;
import io.tributary.common.pipeline.Measure;
import io.vertx.core.Future;
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
import java.util.HashMap;
import java.util.HashSet;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Set;
import java.util.TreeMap;

/**
 * Aggregation state in Redis. A batch is applied by one call of the {@code tributary_apply}
 * function (resources/io/tributary/common/state/tributary.lua); reads merge the partitions' partials.
 * Key lifetimes derive from stream time: a window lives until its start plus the retention, in stream
 * time, mapped to a Redis TTL when it is written.
 */
public final class RedisStateStore implements StateStore {

  private static final String FUNCTION = loadFunction();

  private final Redis redis;
  private final StateKeys keys;
  private final long dedupMillis;
  private final String keyField;

  public RedisStateStore(Redis redis, String pipeline, String keyField, List<Aggregation> aggregations) {
    this.redis = redis;
    this.keyField = keyField;
    this.keys = new StateKeys(pipeline);
    this.dedupMillis = aggregations.stream().mapToLong(a -> a.retention().toMillis()).max().orElse(Duration.ofDays(1).toMillis());
  }

  @Override
  public Future<Void> init() {
    return redis.send(Request.cmd(Command.FUNCTION).arg("LOAD").arg("REPLACE").arg(FUNCTION)).mapEmpty();
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
  public Future<Set<String>> seen(int partition, Map<Long, List<String>> idsByBucket) {
    if (idsByBucket.isEmpty()) {
      return Future.succeededFuture(Set.of());
    }
    List<Request> requests = new ArrayList<>();
    List<List<String>> order = new ArrayList<>();
    idsByBucket.forEach((bucket, ids) -> {
      Request hmget = Request.cmd(Command.HMGET).arg(keys.seen(partition, bucket));
      ids.forEach(hmget::arg);
      requests.add(hmget);
      order.add(ids);
    });
    return redis.batch(requests).map(responses -> {
      Set<String> seen = new HashSet<>();
      for (int i = 0; i < responses.size(); i++) {
        List<String> ids = order.get(i);
        for (int j = 0; j < ids.size(); j++) {
          if (responses.get(i).get(j) != null) {
            seen.add(ids.get(j));
          }
        }
      }
      return seen;
    });
  }

  @Override
  public Future<Applied> apply(int partition, Position expected, long nextOffset, BatchPlan plan) {
    List<String> keyList = new ArrayList<>();
    Map<String, Integer> keyIndex = new HashMap<>();
    List<String> args = new ArrayList<>();
    key(keyList, keyIndex, keys.meta(partition));
    long st = plan.streamTime();
    args.add(expected.isNone() ? "" : Long.toString(expected.nextOffset()));
    args.add(Long.toString(nextOffset));
    args.add(Long.toString(st));
    plan.newIds().forEach((bucket, ids) -> {
      args.add("D");
      args.add(key(keyList, keyIndex, keys.seen(partition, bucket)));
      args.add(Long.toString(ttl(bucket + BatchPlan.DEDUP_BUCKET_MILLIS + dedupMillis, st)));
      args.add(Integer.toString(ids.size()));
      args.addAll(ids);
    });
    List<WindowDelta> deltas = plan.deltas();
    for (WindowDelta d : deltas) {
      Aggregation a = d.aggregation();
      String ttl = Long.toString(ttl(d.start() + a.retention().toMillis(), st));
      List<String> ops = new ArrayList<>();
      op(ops, "I", "count", Long.toString(d.count()));
      d.sums().forEach((m, v) -> {
        op(ops, "F", "sum:" + m, Double.toString(v));
        Long n = d.counts().get(m);
        if (n != null) {
          op(ops, "I", "n:" + m, Long.toString(n));
        }
      });
      d.mins().forEach((m, v) -> op(ops, "<", "min:" + m, Double.toString(v)));
      d.maxs().forEach((m, v) -> op(ops, ">", "max:" + m, Double.toString(v)));
      args.add("W");
      args.add(key(keyList, keyIndex, keys.window(partition, a.name(), d.start(), d.group())));
      args.add(ttl);
      args.add(Integer.toString(ops.size() / 3));
      args.addAll(ops);
      for (Measure m : a.measures().values()) {
        if (m.function() == Measure.Function.DISTINCT) {
          List<String> values = d.distinct().getOrDefault(m.name(), List.of());
          args.add("H");
          args.add(key(keyList, keyIndex, keys.distinct(partition, a.name(), d.start(), m.name(), d.group())));
          args.add(ttl);
          args.add(Integer.toString(values.size()));
          args.addAll(values);
        }
      }
      args.add("S");
      args.add(key(keyList, keyIndex, keys.windowGroups(partition, a.name(), d.start())));
      args.add(ttl);
      args.add(d.group());
    }
    Request fcall = Request.cmd(Command.FCALL).arg("tributary_apply").arg(keyList.size());
    keyList.forEach(fcall::arg);
    args.forEach(fcall::arg);
    // A Redis restarted without persistence comes back without the function: load it again once.
    return redis.send(fcall).recover(e -> String.valueOf(e.getMessage()).contains("Function not found")
        ? init().compose(v -> redis.send(fcall)) : Future.failedFuture(e)).map(response -> {
      if ("conflict".equals(response.get(0).toString())) {
        String pos = response.get(1).toString();
        String storedSt = response.get(2).toString();
        return new Conflict(pos.isEmpty() ? Position.NONE
            : new Position(Long.parseLong(pos), storedSt.isEmpty() ? Long.MIN_VALUE : Long.parseLong(storedSt)));
      }
      List<WindowState> changed = new ArrayList<>(deltas.size());
      int at = 1;
      for (WindowDelta d : deltas) {
        Map<String, String> fields = flatHash(response.get(at++));
        fields.putIfAbsent("count", "0");
        Map<String, Long> distinct = new HashMap<>();
        for (Measure m : d.aggregation().measures().values()) {
          if (m.function() == Measure.Function.DISTINCT) {
            distinct.put(m.name(), response.get(at++).toLong());
          }
        }
        changed.add(WindowState.merge(d.aggregation(), d.group(), d.start(), List.of(fields), distinct));
      }
      return new Ok(changed);
    });
  }

  /**
   * Reads the candidate windows of the range directly: every window start aligned to the advance,
   * overlapping [from, to) and within the retention of the newest stream time. A group of the entity
   * key lives in one partition, the one the producer's partitioner chose; other groups are read from
   * every partition and merged.
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
      List<Integer> holders = partitionKeyed(aggregation) ? List.of(partitionOf(group, partitions)) : allPartitions(partitions);
      List<Target> targets = new ArrayList<>();
      for (long start = Math.floorDiv(high, advance) * advance; start >= low; start -= advance) {
        targets.add(new Target(start, group, holders));
      }
      return readAll(aggregation, targets);
    });
  }

  /** Whether the aggregation groups by the entity key alone, so each group lives in one partition. */
  private boolean partitionKeyed(Aggregation aggregation) {
    return aggregation.groupBy().size() == 1 && aggregation.groupBy().get(0).equals(keyField);
  }

  /** The partition Kafka's default partitioner gives a record with this key. */
  static int partitionOf(String key, int partitions) {
    return org.apache.kafka.common.utils.Utils.toPositive(
        org.apache.kafka.common.utils.Utils.murmur2(key.getBytes(StandardCharsets.UTF_8))) % partitions;
  }

  private static List<Integer> allPartitions(int partitions) {
    List<Integer> all = new ArrayList<>(partitions);
    for (int p = 0; p < partitions; p++) {
      all.add(p);
    }
    return all;
  }

  /** The largest stream time of any partition, or Long.MIN_VALUE when nothing was applied yet. */
  private Future<Long> streamTime(int partitions) {
    List<Request> metas = new ArrayList<>();
    for (int p = 0; p < partitions; p++) {
      metas.add(Request.cmd(Command.HGET).arg(keys.meta(p)).arg("st"));
    }
    return redis.batch(metas).map(sts -> {
      long streamTime = Long.MIN_VALUE;
      for (Response st : sts) {
        if (st != null) {
          streamTime = Math.max(streamTime, st.toLong());
        }
      }
      return streamTime;
    });
  }

  @Override
  public Future<List<WindowState>> currentWindow(Aggregation aggregation, int partitions) {
    return streamTime(partitions).compose(streamTime -> {
      if (streamTime == Long.MIN_VALUE) {
        return Future.succeededFuture(List.<WindowState>of());
      }
      long start = Windows.newestStart(aggregation.window(), streamTime);
      List<Request> members = new ArrayList<>();
      for (int p = 0; p < partitions; p++) {
        members.add(Request.cmd(Command.SMEMBERS).arg(keys.windowGroups(p, aggregation.name(), start)));
      }
      return redis.batch(members).compose(groupSets -> {
        Map<String, List<Integer>> partitionsByGroup = new LinkedHashMap<>();
        for (int p = 0; p < partitions; p++) {
          for (Response g : groupSets.get(p)) {
            partitionsByGroup.computeIfAbsent(g.toString(), x -> new ArrayList<>()).add(p);
          }
        }
        List<Target> targets = new ArrayList<>();
        partitionsByGroup.forEach((g, ps) -> targets.add(new Target(start, g, ps)));
        return readAll(aggregation, targets);
      });
    });
  }

  /** Reads in slices of at most {@value #READ_SLICE} windows, one after the other, to bound each pipelined batch. */
  private Future<List<WindowState>> readAll(Aggregation aggregation, List<Target> targets) {
    List<WindowState> out = new ArrayList<>();
    Future<Void> chain = Future.succeededFuture();
    for (int from = 0; from < targets.size(); from += READ_SLICE) {
      List<Target> slice = targets.subList(from, Math.min(from + READ_SLICE, targets.size()));
      chain = chain.compose(v -> read(aggregation, slice).map(states -> {
        out.addAll(states);
        return null;
      }));
    }
    return chain.map(v -> out);
  }

  private static final int READ_SLICE = 500;

  /** One window of one group to read, and the partitions holding a partial of it. */
  private record Target(long start, String group, List<Integer> partitions) {
  }

  /** Reads the partials of each target and merges them. */
  private Future<List<WindowState>> read(Aggregation aggregation, List<Target> targets) {
    List<Request> requests = new ArrayList<>();
    List<String> distinctMeasures = aggregation.measures().values().stream()
        .filter(m -> m.function() == Measure.Function.DISTINCT).map(Measure::name).toList();
    for (Target t : targets) {
      t.partitions().forEach(p -> requests.add(Request.cmd(Command.HGETALL).arg(keys.window(p, aggregation.name(), t.start(), t.group()))));
      for (String measure : distinctMeasures) {
        Request pfcount = Request.cmd(Command.PFCOUNT);
        t.partitions().forEach(p -> pfcount.arg(keys.distinct(p, aggregation.name(), t.start(), measure, t.group())));
        requests.add(pfcount);
      }
    }
    if (requests.isEmpty()) {
      return Future.succeededFuture(List.of());
    }
    return redis.batch(requests).map(responses -> {
      List<WindowState> out = new ArrayList<>();
      int at = 0;
      for (Target t : targets) {
        List<Map<String, String>> partials = new ArrayList<>();
        for (int i = 0; i < t.partitions().size(); i++) {
          Map<String, String> hash = hash(responses.get(at++));
          if (!hash.isEmpty()) {
            partials.add(hash);
          }
        }
        Map<String, Long> distinct = new HashMap<>();
        for (String measure : distinctMeasures) {
          distinct.put(measure, responses.get(at++).toLong());
        }
        if (!partials.isEmpty()) {
          out.add(WindowState.merge(aggregation, t.group(), t.start(), partials, distinct));
        }
      }
      return out;
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

  private static void op(List<String> ops, String code, String field, String value) {
    ops.add(code);
    ops.add(field);
    ops.add(value);
  }

  /** Remaining life in stream time as a Redis TTL; at least a minute, so a write never lands already expired. */
  private static long ttl(long expiresAtStreamTime, long streamTime) {
    return Math.max(60_000L, expiresAtStreamTime - streamTime);
  }

  private static Map<String, String> flatHash(Response flat) {
    Map<String, String> fields = new HashMap<>();
    for (int i = 0; i + 1 < flat.size(); i += 2) {
      fields.put(flat.get(i).toString(), flat.get(i + 1).toString());
    }
    return fields;
  }

  private static Map<String, String> hash(Response response) {
    Map<String, String> fields = new HashMap<>();
    if (response == null) {
      return fields;
    }
    for (String key : response.getKeys()) {
      fields.put(key, response.get(key).toString());
    }
    return fields;
  }

  private static String loadFunction() {
    try (InputStream in = RedisStateStore.class.getResourceAsStream("tributary.lua")) {
      return new String(in.readAllBytes(), StandardCharsets.UTF_8);
    } catch (IOException e) {
      throw new UncheckedIOException(e);
    }
  }
}
