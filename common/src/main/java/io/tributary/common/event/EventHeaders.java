package io.tributary.common.event;

/** Names of the record headers every stage writes next to the event body. */
public final class EventHeaders {

  /** The event id (schema.id). */
  public static final String ID = "tributary-id";
  /** The event time, epoch milliseconds, decimal text. */
  public static final String TIME = "tributary-time";
  /** When ingest accepted the event, epoch milliseconds: the start of end-to-end latency. */
  public static final String ACCEPTED = "tributary-accepted";
  /** The entity key, on a bus whose routing key carries something else (a RabbitMQ super stream's partition). */
  public static final String KEY = "tributary-key";
  /** Why an event was dead-lettered. */
  public static final String REASON = "tributary-reason";

  private EventHeaders() {
  }
}
