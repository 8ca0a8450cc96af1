package io.tributary.enrich;

/** What enrichment does with one event. */
public sealed interface Decision {

  /** Send the event on, with {@code appended} (encoded {@code "name":value} pairs) added to it. */
  record Emit(String appended) implements Decision {
  }

  /** Drop the event, as a look-up rule says. */
  record Drop(String reason) implements Decision {
  }

  /** Send the event to the dead-letter bus with its reason. */
  record DeadLetter(String reason) implements Decision {
  }
}
