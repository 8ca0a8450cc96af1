package io.tributary.common.logging;

import ch.qos.logback.classic.Level;
import ch.qos.logback.classic.Logger;
import ch.qos.logback.classic.turbo.TurboFilter;
import ch.qos.logback.core.spi.FilterReply;
import java.util.Set;
import org.slf4j.MDC;
import org.slf4j.Marker;

/**
 * The fields that tell one service's log lines from another's in a shared log store: pipeline, stage
 * and instance on every line, and the input partition on the lines about one. They are MDC entries,
 * so the JSON encoder ({@code TRIBUTARY_LOG_FORMAT=json}) writes them as fields of each line.
 *
 * <p>Vert.x runs a service's code on threads it creates as needed, so no start-up code can put the
 * process's fields into each thread's MDC. This filter, which logback asks before it builds each log
 * event and on the logging thread, puts them there the first time a thread logs.
 */
public final class LogFields extends TurboFilter {

  public static final String PIPELINE = "pipeline";
  public static final String STAGE = "stage";
  public static final String INSTANCE = "instance";
  public static final String PARTITION = "partition";
  public static final Set<String> FORMATS = Set.of("text", "json");

  private static volatile String pipeline;
  private static volatile String stage;
  private static volatile String instance;
  private static volatile int generation;
  private static final ThreadLocal<Integer> SEEN = new ThreadLocal<>();

  /** Names the process in every log line from now on. */
  public static void identify(String pipelineName, String stageName, String instanceId) {
    pipeline = pipelineName;
    stage = stageName;
    instance = instanceId;
    generation++;
  }

  /** Logs {@code line} with the partition in the MDC, then restores what was there. */
  public static void forPartition(int partition, Runnable line) {
    String before = MDC.get(PARTITION);
    MDC.put(PARTITION, String.valueOf(partition));
    try {
      line.run();
    } finally {
      if (before == null) {
        MDC.remove(PARTITION);
      } else {
        MDC.put(PARTITION, before);
      }
    }
  }

  @Override
  public FilterReply decide(Marker marker, Logger logger, Level level, String format, Object[] params, Throwable t) {
    Integer seen = SEEN.get();
    if (stage != null && (seen == null || seen != generation)) {
      MDC.put(PIPELINE, pipeline);
      MDC.put(STAGE, stage);
      MDC.put(INSTANCE, instance);
      SEEN.set(generation);
    }
    return FilterReply.NEUTRAL;
  }
}
