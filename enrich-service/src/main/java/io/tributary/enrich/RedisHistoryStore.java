package io.tributary.enrich;

import io.tributary.common.redis.RedisClients;
import io.vertx.core.Future;
import io.vertx.core.json.JsonArray;
import io.vertx.redis.client.Command;
import io.vertx.redis.client.Redis;
import io.vertx.redis.client.Request;
import io.vertx.redis.client.Response;
import java.io.IOException;
import java.io.InputStream;
import java.io.UncheckedIOException;
import java.nio.charset.StandardCharsets;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;

/**
 * Histories in Redis: one {@code tributary_history} function call (history.lua) per shard and batch
 * stores the new events and computes every event's features next to the data. Per key, a hash holds
 * the events, their features and per-bucket partial measures, a sorted set orders the events by time
 * and another the buckets by their end, so a feature reads at most {@value io.tributary.common.pipeline.History#BUCKETS_PER_WINDOW}
 * bucket partials plus the events of the two edge buckets, however long the key's history.
 * Every key of a shard carries the hash tag {@code {<pipeline>.<shard>}} (one Redis Cluster slot per
 * call); the free-form history key comes last, so no value can make two keys collide.
 */
public final class RedisHistoryStore implements HistoryStore {

  private static final String FUNCTION = loadFunction();

  private final Redis redis;
  private final String pipeline;

  public RedisHistoryStore(Redis redis, String pipeline) {
    this.redis = redis;
    this.pipeline = pipeline;
  }

  @Override
  public Future<Void> init() {
    return redis.send(Request.cmd(Command.FUNCTION).arg("LOAD").arg("REPLACE").arg(FUNCTION)).mapEmpty();
  }

  /** Unlinks every key of the pipeline's histories (starting over); answers how many. */
  static Future<Long> remove(Redis redis, String pipeline) {
    return RedisClients.unlinkMatching(redis, "tributary:" + pipeline + ":hist:*");
  }

  private String base(HistoryPlan plan, int shard) {
    return "tributary:" + pipeline + ":hist:{" + pipeline + "." + shard + "}:" + plan.history().name() + ":";
  }

  @Override
  public Future<List<String>> record(HistoryPlan plan, int shard, List<HistoryEvent> events) {
    String base = base(plan, shard);
    Map<String, Integer> keyIndex = new LinkedHashMap<>();
    List<String> args = new ArrayList<>(events.size() + 1);
    args.add(plan.redisPlan());
    for (HistoryEvent e : events) {
      int k = keyIndex.computeIfAbsent(e.key(), key -> keyIndex.size() + 1);
      args.add(new JsonArray().add(k).add(e.id()).add(e.time()).add(new JsonArray(new ArrayList<>(e.values()))).encode());
    }
    Request fcall = Request.cmd(Command.FCALL).arg("tributary_history").arg(keyIndex.size() * 3);
    for (String key : keyIndex.keySet()) {
      fcall.arg(base + "h:" + key).arg(base + "z:" + key).arg(base + "b:" + key);
    }
    args.forEach(fcall::arg);
    // A Redis restarted without persistence comes back without the function: load it again once.
    return redis.send(fcall).recover(e -> String.valueOf(e.getMessage()).contains("Function not found")
        ? init().compose(v -> redis.send(fcall)) : Future.failedFuture(e)).map(response -> {
      List<String> answers = new ArrayList<>(response.size());
      for (Response r : response) {
        answers.add(r.toString());
      }
      return answers;
    });
  }

  @Override
  public Future<Void> close() {
    return redis.close();
  }

  private static String loadFunction() {
    try (InputStream in = RedisHistoryStore.class.getResourceAsStream("history.lua")) {
      return new String(in.readAllBytes(), StandardCharsets.UTF_8);
    } catch (IOException e) {
      throw new UncheckedIOException(e);
    }
  }
}
