package io.tributary.common.bus;

import io.tributary.common.event.EventHeaders;
import io.tributary.common.pipeline.BusRef;
import io.vertx.core.json.JsonObject;
import java.nio.charset.StandardCharsets;
import java.util.Map;

/**
 * Dead-letter records: the reason, the stage that refused the event, and the input exactly as it
 * arrived (text when it was text), so nothing a client sent is lost even when it cannot be parsed.
 */
public final class DeadLetters {

  private final String pipeline;
  private final String stage;
  private final BusRef bus;

  public DeadLetters(String pipeline, String stage, BusRef bus) {
    this.pipeline = pipeline;
    this.stage = stage;
    this.bus = bus;
  }

  public BusMessage message(String key, String reason, String source, byte[] input, long nowMillis) {
    JsonObject body = new JsonObject()
        .put("pipeline", pipeline)
        .put("stage", stage)
        .put("reason", reason)
        .put("source", source)
        .put("rejectedAt", nowMillis)
        .put("input", new String(input, StandardCharsets.UTF_8));
    return new BusMessage(bus, key, body.toBuffer().getBytes(), Map.of(EventHeaders.REASON, truncate(reason)));
  }

  private static String truncate(String reason) {
    return reason.length() > 512 ? reason.substring(0, 512) : reason;
  }
}
