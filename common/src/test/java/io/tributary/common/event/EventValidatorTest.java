package io.tributary.common.event;

import static org.assertj.core.api.Assertions.assertThat;

import io.tributary.common.pipeline.Pipeline;
import io.tributary.common.pipeline.PipelineParser;
import java.util.HashMap;
import java.util.List;
import java.util.Map;
import org.junit.jupiter.api.Test;

class EventValidatorTest {

  private static final Pipeline PIPELINE = PipelineParser.parse("""
      pipeline: t
      schema:
        id: txn_id
        key: card_id
        time: ts
        fields:
          card_id: string
          amount: number
          qty: {type: integer, required: false}
          ok: {type: boolean, required: false}
          tags: {type: array, required: false}
          meta: {type: object, required: false}
          currency: {type: string, required: false}
      """, "t.yaml");
  private final EventValidator validator = new EventValidator(PIPELINE.schema());

  private EventValidator.Result validate(Map<String, Object> event) {
    return validator.validate(new HashMap<>(event), 1_000L);
  }

  @Test
  void validEventKeepsItsTimeAndIsNotRewritten() {
    Map<String, Object> event = new HashMap<>(Map.of("txn_id", "t1", "card_id", "C1", "amount", 12.5, "ts", 1_700_000_000_000L));
    EventValidator.Result result = validator.validate(event, 5L);
    assertThat(result).isEqualTo(new EventValidator.Valid("t1", "C1", 1_700_000_000_000L, false));
  }

  @Test
  void isoTimeIsNormalisedToEpochMillis() {
    Map<String, Object> event = new HashMap<>(Map.of("txn_id", "t1", "card_id", "C1", "amount", 1, "ts", "2026-01-02T03:04:05.006Z"));
    EventValidator.Valid valid = (EventValidator.Valid) validator.validate(event, 5L);
    assertThat(valid.timeMillis()).isEqualTo(1_767_323_045_006L);
    assertThat(valid.rewritten()).isTrue();
    assertThat(event.get("ts")).isEqualTo(1_767_323_045_006L);

    Map<String, Object> offset = new HashMap<>(Map.of("txn_id", "t1", "card_id", "C1", "amount", 1, "ts", "2026-01-02T04:04:05.006+01:00"));
    assertThat(((EventValidator.Valid) validator.validate(offset, 5L)).timeMillis()).isEqualTo(1_767_323_045_006L);
  }

  @Test
  void missingTimeTakesTheArrivalTime() {
    Map<String, Object> event = new HashMap<>(Map.of("txn_id", "t1", "card_id", "C1", "amount", 1));
    EventValidator.Valid valid = (EventValidator.Valid) validator.validate(event, 42L);
    assertThat(valid.timeMillis()).isEqualTo(42L);
    assertThat(event.get("ts")).isEqualTo(42L);
  }

  @Test
  void everyKindOfBadFieldIsNamed() {
    assertThat(validate(Map.of("card_id", "C1", "amount", 1))).isEqualTo(new EventValidator.Invalid("missing required field 'txn_id'"));
    Map<String, Object> nullAmount = new HashMap<>(Map.of("txn_id", "t", "card_id", "C1"));
    nullAmount.put("amount", null);
    assertThat(validate(nullAmount)).isEqualTo(new EventValidator.Invalid("field 'amount' is null but required"));
    assertThat(validate(Map.of("txn_id", "t", "card_id", "C1", "amount", "12")))
        .isEqualTo(new EventValidator.Invalid("field 'amount' must be a number, got string \"12\""));
    assertThat(validate(Map.of("txn_id", "t", "card_id", 7, "amount", 1)))
        .isEqualTo(new EventValidator.Invalid("field 'card_id' must be a string, got number 7"));
    assertThat(validate(Map.of("txn_id", "t", "card_id", "C", "amount", 1, "qty", 1.5)))
        .isEqualTo(new EventValidator.Invalid("field 'qty' must be an integer, got number 1.5"));
    assertThat(validate(Map.of("txn_id", "t", "card_id", "C", "amount", 1, "ok", "yes")))
        .isEqualTo(new EventValidator.Invalid("field 'ok' must be a boolean, got string \"yes\""));
    assertThat(validate(Map.of("txn_id", "t", "card_id", "C", "amount", 1, "tags", Map.of())))
        .isEqualTo(new EventValidator.Invalid("field 'tags' must be an array, got an object"));
    assertThat(validate(Map.of("txn_id", "t", "card_id", "C", "amount", 1, "meta", List.of())))
        .isEqualTo(new EventValidator.Invalid("field 'meta' must be an object, got an array"));
    assertThat(validate(Map.of("txn_id", "t", "card_id", "C", "amount", 1, "ts", "yesterday")))
        .isEqualTo(new EventValidator.Invalid("field 'ts' must be epoch milliseconds or an ISO-8601 timestamp, got string \"yesterday\""));
    assertThat(validate(Map.of("txn_id", "", "card_id", "C", "amount", 1)).toString()).contains("the event id");
    assertThat(validate(Map.of("txn_id", "t", "card_id", "C", "amount", Double.NaN))).isInstanceOf(EventValidator.Invalid.class);
  }

  @Test
  void optionalFieldsMayBeAbsentAndUnknownFieldsPass() {
    assertThat(validate(Map.of("txn_id", "t", "card_id", "C", "amount", 3, "extra", "kept"))).isInstanceOf(EventValidator.Valid.class);
  }
}
