package io.tributary.common.logging;

import ch.qos.logback.classic.spi.ILoggingEvent;
import ch.qos.logback.core.filter.Filter;
import ch.qos.logback.core.spi.FilterReply;

/**
 * Lets through the events of one log format's appender only when {@code TRIBUTARY_LOG_FORMAT}
 * names that format ({@code text} by default), so logback.xml can declare both appenders and use one.
 */
public final class LogFormat extends Filter<ILoggingEvent> {

  private static final String CHOSEN = System.getenv().getOrDefault("TRIBUTARY_LOG_FORMAT", "text");

  private boolean chosen;

  /** Set from logback.xml: the format this appender writes. */
  public void setFormat(String format) {
    chosen = format.equals(CHOSEN);
  }

  @Override
  public FilterReply decide(ILoggingEvent event) {
    return chosen ? FilterReply.NEUTRAL : FilterReply.DENY;
  }
}
