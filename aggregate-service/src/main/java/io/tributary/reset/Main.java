package io.tributary.reset;

import io.tributary.common.config.ServiceConfig;
import io.tributary.common.launch.ServiceLauncher;
import io.tributary.common.pipeline.Pipeline;
import io.tributary.common.pipeline.PipelineException;
import io.tributary.common.pipeline.PipelineParser;
import java.util.ArrayList;
import java.util.List;

/**
 * Starts a pipeline over: {@code java -cp aggregate-service.jar io.tributary.reset.Main --pipeline FILE
 * [--config FILE]}, with the same settings and environment as its services, while none of them runs
 * ({@code deploy/local/run.sh reset} on the local stack). It ships beside the fused process, in the
 * one jar that holds every stage's layout. Exits 2 on a bad pipeline or config, 1 when a step fails.
 */
public final class Main {

  private Main() {
  }

  public static void main(String[] args) {
    Pipeline pipeline;
    ServiceConfig config;
    try {
      ServiceLauncher.Arguments arguments = ServiceLauncher.Arguments.parse(args, System::getenv);
      config = ServiceConfig.load("reset", arguments.config());
      pipeline = PipelineParser.parse(arguments.pipeline());
    } catch (PipelineException | ServiceConfig.ConfigException | IllegalArgumentException e) {
      System.err.println("tributary reset: " + e.getMessage());
      System.exit(2);
      return;
    }
    List<String> lines = new ArrayList<>();
    try {
      new PipelineReset(pipeline, config, line -> {
        lines.add(line);
        System.out.println(line);
      }).run();
    } catch (Exception e) {
      System.err.println("tributary reset of pipeline '" + pipeline.name() + "' failed: " + e.getMessage());
      System.exit(1);
    }
    System.out.println(lines.stream().noneMatch(l -> l.startsWith("removed ")) ? "pipeline '" + pipeline.name() + "' had nothing to remove"
        : "pipeline '" + pipeline.name() + "' starts over (its reference data is kept)");
    System.exit(0);
  }
}
