package io.tributary.fused;

import io.tributary.common.launch.ServiceLauncher;
import java.util.List;

/**
 * The three stages in one process, for the partitions it owns: the chain's source is read once and
 * each batch goes from stage to stage in memory, its state and the source's position stored by the
 * aggregate stage in one step (docs/operations.md, "Three services or one fused process"). It ships in
 * the aggregate service's jar, which carries the other two stages: {@code java -cp aggregate-service.jar
 * io.tributary.fused.Main --pipeline FILE}.
 */
public final class Main {

  private Main() {
  }

  public static void main(String[] args) {
    // Qualified: each stage's class is named Main.
    ServiceLauncher.mainFused(List.of(io.tributary.ingest.Main.STAGE, io.tributary.enrich.Main.STAGE, io.tributary.aggregate.Main.STAGE),
        args);
  }
}
