package io.tributary.common.event;

import static org.assertj.core.api.Assertions.assertThat;

import io.tributary.common.pipeline.Pipeline;
import io.tributary.common.pipeline.PipelineParser;
import io.vertx.core.json.JsonObject;
import java.nio.charset.StandardCharsets;
import java.util.HashMap;
import java.util.HexFormat;
import java.util.List;
import java.util.Map;
import org.junit.jupiter.api.Test;

class EventValidatorTest {

  /** The wall clock at validation: 2026-12-01T00:00:00Z. */
  private static final long NOW = 1_796_083_200_000L;
  private static final long HOUR = 3_600_000L;

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
    Map<String, Object> withTime = new HashMap<>(event);
    withTime.putIfAbsent("ts", NOW - HOUR);
    return validator.validate(json(withTime), NOW);
  }

  private static byte[] json(Map<String, Object> event) {
    return new JsonObject(event).encode().getBytes(StandardCharsets.UTF_8);
  }

  private static JsonObject sent(EventValidator.Result result) {
    return new JsonObject(new String(((EventValidator.Valid) result).value(), StandardCharsets.UTF_8));
  }

  private static EventValidator validator(String schema) {
    return new EventValidator(PipelineParser.parse("pipeline: t\nschema:\n" + schema, "t.yaml").schema());
  }

  @Test
  void validEventKeepsItsTimeAndIsNotRewritten() {
    byte[] event = json(Map.of("txn_id", "t1", "card_id", "C1", "amount", 12.5, "ts", 1_700_000_000_000L));
    EventValidator.Valid valid = (EventValidator.Valid) validator.validate(event, NOW);
    assertThat(valid.id()).isEqualTo("t1");
    assertThat(valid.key()).isEqualTo("C1");
    assertThat(valid.timeMillis()).isEqualTo(1_700_000_000_000L);
    assertThat(valid.value()).as("the original bytes, not a copy").isSameAs(event);
  }

  @Test
  void isoTimeIsNormalisedToEpochMillis() {
    EventValidator.Result result = validator.validate(json(Map.of("txn_id", "t1", "card_id", "C1", "amount", 1,
        "ts", "2026-01-02T03:04:05.006Z")), NOW);
    assertThat(((EventValidator.Valid) result).timeMillis()).isEqualTo(1_767_323_045_006L);
    assertThat(sent(result).getLong("ts")).isEqualTo(1_767_323_045_006L);
    assertThat(sent(result).getString("txn_id")).isEqualTo("t1");

    byte[] offset = json(Map.of("txn_id", "t1", "card_id", "C1", "amount", 1, "ts", "2026-01-02T04:04:05.006+01:00"));
    assertThat(((EventValidator.Valid) validator.validate(offset, NOW)).timeMillis()).isEqualTo(1_767_323_045_006L);
  }

  @Test
  void aMissingTimeIsInvalidLikeAnyRequiredField() {
    assertThat(validator.validate(json(Map.of("txn_id", "t1", "card_id", "C1", "amount", 1)), NOW))
        .isEqualTo(new EventValidator.Invalid("missing required field 'ts'"));
    Map<String, Object> nullTime = new HashMap<>(Map.of("txn_id", "t1", "card_id", "C1", "amount", 1));
    nullTime.put("ts", null);
    assertThat(validator.validate(json(nullTime), NOW)).isEqualTo(new EventValidator.Invalid("field 'ts' is null but required"));
    // Undeclared in fields: still required.
    EventValidator undeclared = validator("  id: id\n  key: k\n  time: at\n  fields: {k: string}\n");
    assertThat(undeclared.validate(json(Map.of("id", "1", "k", "x")), NOW))
        .isEqualTo(new EventValidator.Invalid("missing required field 'at'"));
  }

  @Test
  void arrivalTimeOnlyWhereThePipelineAsksForIt() {
    EventValidator optional = validator("  id: id\n  key: k\n  time: at\n  fields: {k: string, at: {type: timestamp, required: false}}\n");
    EventValidator.Result stamped = optional.validate(json(Map.of("id", "1", "k", "x")), NOW);
    assertThat(((EventValidator.Valid) stamped).timeMillis()).isEqualTo(NOW);
    assertThat(sent(stamped).getMap()).isEqualTo(Map.of("id", "1", "k", "x", "at", NOW));
    Map<String, Object> nullTime = new HashMap<>(Map.of("id", "1", "k", "x"));
    nullTime.put("at", null);
    assertThat(sent(optional.validate(json(nullTime), NOW)).getMap()).isEqualTo(Map.of("id", "1", "k", "x", "at", NOW));
    // With no time field at all, every event takes its arrival time.
    EventValidator none = validator("  id: id\n  key: k\n  fields: {k: string}\n");
    assertThat(((EventValidator.Valid) none.validate(json(Map.of("id", "1", "k", "x")), NOW)).timeMillis()).isEqualTo(NOW);
    // A time that is there but unparseable is invalid even when the field is optional.
    assertThat(optional.validate(json(Map.of("id", "1", "k", "x", "at", "soon")), NOW)).isInstanceOf(EventValidator.Invalid.class);
  }

  @Test
  void aTimeTooFarAheadOfTheWallClockIsRefusedAsFromTheFuture() {
    assertThat(validate(Map.of("txn_id", "t", "card_id", "C", "amount", 1, "ts", NOW + HOUR))).isInstanceOf(EventValidator.Valid.class);
    EventValidator.Result ahead = validate(Map.of("txn_id", "t", "card_id", "C", "amount", 1, "ts", NOW + HOUR + 1));
    assertThat(ahead).isInstanceOf(EventValidator.Invalid.class);
    EventValidator.Invalid future = (EventValidator.Invalid) ahead;
    assertThat(future.refusal()).isEqualTo(EventValidator.Refusal.FUTURE);
    assertThat(future.error()).startsWith("event time in the future: 'ts' " + (NOW + HOUR + 1)).contains("3600000 ms");
    // Seconds sent instead of milliseconds land in 1970: valid here, late for any live window downstream.
    assertThat(validate(Map.of("txn_id", "t", "card_id", "C", "amount", 1, "ts", NOW / 1000))).isInstanceOf(EventValidator.Valid.class);
    // Microseconds, or the year 2099, are from the future.
    assertThat(((EventValidator.Invalid) validate(Map.of("txn_id", "t", "card_id", "C", "amount", 1, "ts", NOW * 1000))).refusal())
        .isEqualTo(EventValidator.Refusal.FUTURE);
    assertThat(((EventValidator.Invalid) validate(Map.of("txn_id", "t", "card_id", "C", "amount", 1, "ts", "2099-01-01T00:00:00Z"))).refusal())
        .isEqualTo(EventValidator.Refusal.FUTURE);
    // The bound is the pipeline's to set.
    EventValidator tight = validator("  id: id\n  key: k\n  time: {field: at, maxAhead: 5s}\n  fields: {k: string}\n");
    assertThat(tight.validate(json(Map.of("id", "1", "k", "x", "at", NOW + 5_000)), NOW)).isInstanceOf(EventValidator.Valid.class);
    assertThat(((EventValidator.Invalid) tight.validate(json(Map.of("id", "1", "k", "x", "at", NOW + 5_001)), NOW)).refusal())
        .isEqualTo(EventValidator.Refusal.FUTURE);
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
  void theFirstWrongFieldInDeclarationOrderIsReportedWhateverTheOrderInTheEvent() {
    String event = "{\"meta\":[],\"amount\":\"x\",\"card_id\":\"C\",\"txn_id\":\"t\",\"ts\":1}";
    assertThat(validator.validate(event.getBytes(StandardCharsets.UTF_8), NOW))
        .isEqualTo(new EventValidator.Invalid("field 'amount' must be a number, got string \"x\""));
  }

  @Test
  void malformedJsonIsNamedAndNestedValuesOfUndeclaredFieldsAreSkipped() {
    assertThat(((EventValidator.Invalid) validator.validate("{broken".getBytes(StandardCharsets.UTF_8), NOW)).error())
        .startsWith("not valid JSON");
    assertThat(validator.validate("[1,2]".getBytes(StandardCharsets.UTF_8), NOW)).isEqualTo(new EventValidator.Invalid("not a JSON object"));
    assertThat(((EventValidator.Invalid) validator.validate("{\"a\":1}{}".getBytes(StandardCharsets.UTF_8), NOW)).error())
        .startsWith("not valid JSON");
    assertThat(((EventValidator.Invalid) validator.validate(
        "{\"txn_id\":\"t\",\"txn_id\":\"u\",\"card_id\":\"C\",\"amount\":1,\"ts\":1}".getBytes(StandardCharsets.UTF_8), NOW)).error())
        .startsWith("not valid JSON").contains("Duplicate field 'txn_id'");
    byte[] nested = "{\"txn_id\":\"t7\",\"card_id\":\"C\",\"amount\":1,\"ts\":1,\"extra\":{\"amount\":\"no\",\"x\":[1,{\"y\":2}]}}"
        .getBytes(StandardCharsets.UTF_8);
    EventValidator.Valid valid = (EventValidator.Valid) validator.validate(nested, NOW);
    assertThat(valid.id()).isEqualTo("t7");
    assertThat(valid.value()).isSameAs(nested);
  }

  @Test
  void optionalFieldsMayBeAbsentAndUnknownFieldsPass() {
    assertThat(validate(Map.of("txn_id", "t", "card_id", "C", "amount", 3, "extra", "kept"))).isInstanceOf(EventValidator.Valid.class);
  }

  private EventValidator.Result raw(String json) {
    return validator.validate(json.getBytes(StandardCharsets.UTF_8), NOW);
  }

  private static String error(EventValidator.Result result) {
    assertThat(result).isInstanceOf(EventValidator.Invalid.class);
    return ((EventValidator.Invalid) result).error();
  }

  @Test
  void numbersBeyondTheRangeAreRefusedSoNoSumCanOverflow() {
    String base = "{\"txn_id\":\"t1\",\"card_id\":\"C1\",\"ts\":" + (NOW - HOUR) + ",\"amount\":";
    assertThat(raw(base + "1e15}")).isInstanceOf(EventValidator.Valid.class);
    assertThat(raw(base + "-1000000000000000}")).isInstanceOf(EventValidator.Valid.class);
    assertThat(error(raw(base + "1.7e308}"))).isEqualTo("field 'amount' must be a number from -1e15 to 1e15, got number 1.7e308");
    assertThat(error(raw(base + "-1.0000001e15}"))).contains("from -1e15 to 1e15");
    assertThat(error(raw(base + "1" + "0".repeat(400) + "}"))).contains("from -1e15 to 1e15").contains("...");
    assertThat(error(raw(base + "1,\"qty\":1e16}"))).isEqualTo("field 'qty' must be an integer from -1e15 to 1e15, got number 1e16");
    assertThat(error(raw(base + "\"12\"}"))).isEqualTo("field 'amount' must be a number, got string \"12\"");
  }

  @Test
  void malformedUtf8IsRefusedHoweverItIsMalformed() {
    byte[] prefix = ("{\"txn_id\":\"t1\",\"card_id\":\"C1\",\"amount\":1,\"ts\":" + (NOW - HOUR) + ",\"currency\":\"").getBytes(StandardCharsets.UTF_8);
    byte[][] bad = {{(byte) 0xC0, (byte) 0xAF}, {(byte) 0xED, (byte) 0xA0, (byte) 0x80}, {(byte) 0xFF},
        {(byte) 0xE0, (byte) 0x80, (byte) 0xAF}, {(byte) 0xF4, (byte) 0x90, (byte) 0x80, (byte) 0x80}, {(byte) 0xE2, (byte) 0x82}};
    for (byte[] b : bad) {
      byte[] event = new byte[prefix.length + b.length + 2];
      System.arraycopy(prefix, 0, event, 0, prefix.length);
      System.arraycopy(b, 0, event, prefix.length, b.length);
      event[event.length - 2] = '"';
      event[event.length - 1] = '}';
      assertThat(error(validator.validate(event, NOW))).as("%s", HexFormat.of().formatHex(b))
          .isEqualTo("not valid UTF-8: a malformed byte sequence at byte " + prefix.length
              + " (overlong forms, surrogates and stray bytes are refused)");
    }
    assertThat(raw("{\"txn_id\":\"t1\",\"card_id\":\"Ç€\uD83D\uDE00\",\"amount\":1,\"ts\":" + (NOW - HOUR) + "}"))
        .isInstanceOf(EventValidator.Valid.class);
  }
}
