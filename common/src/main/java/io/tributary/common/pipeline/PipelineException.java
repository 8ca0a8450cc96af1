package io.tributary.common.pipeline;

import java.util.List;

/** A pipeline file that cannot be used; the message names the file, line and field of every problem found. */
public final class PipelineException extends RuntimeException {

  private final List<String> problems;

  public PipelineException(String source, List<String> problems) {
    super("Invalid pipeline " + source + ":\n  " + String.join("\n  ", problems));
    this.problems = List.copyOf(problems);
  }

  public List<String> problems() {
    return problems;
  }
}
