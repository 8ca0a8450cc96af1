package io.tributary.common.state;

/**
 * The Redis layout of aggregation state (docs/operations.md). Every key of a partition carries the
 * hash tag {@code {<pipeline>.<partition>}}, so one partition's keys share a Redis Cluster slot and
 * one function call can touch them all. Names and aggregation/measure names are restricted by the
 * parser; the free-form group value always comes last, so no value can make two keys collide.
 */
public final class StateKeys {

  private final String pipeline;

  public StateKeys(String pipeline) {
    this.pipeline = pipeline;
  }

  private String base(int partition) {
    return "tributary:" + pipeline + ":agg:{" + pipeline + "." + partition + "}:";
  }

  /** A SCAN pattern matching every partition key of the pipeline's aggregation state (the shape aside). */
  public String all() {
    return "tributary:" + pipeline + ":agg:*";
  }

  /** String: the deployment shape that keeps this state ({@code services} or {@code fused}). */
  public String shape() {
    return "tributary:" + pipeline + ":shape";
  }

  /** Hash: {@code pos} (next offset) and {@code st} (stream time). */
  public String meta(int partition) {
    return base(partition) + "meta";
  }

  /** Hash of event ids applied, for events whose time falls in one de-duplication bucket. */
  public String seen(int partition, long bucket) {
    return base(partition) + "seen:" + bucket;
  }

  /** Hash of the windows of one aggregation that start at {@code start}: field = group, value = the packed {@link WindowValue}. */
  public String windows(int partition, String aggregation, long start) {
    return base(partition) + "w:" + aggregation + ":" + start;
  }

  /** HyperLogLog of one distinct measure of one window. */
  public String distinct(int partition, String aggregation, long start, String measure, String group) {
    return base(partition) + "d:" + aggregation + ":" + start + ":" + measure + ":" + group;
  }

  /** Stream of the partition's outbox entries not relayed yet; entry ids are {@code <position>-0}. */
  public String outbox(int partition) {
    return base(partition) + "outbox";
  }
}
