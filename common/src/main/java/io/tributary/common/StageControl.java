package io.tributary.common;

import io.vertx.core.json.JsonObject;
import java.util.List;
import java.util.concurrent.CopyOnWriteArrayList;
import java.util.concurrent.atomic.AtomicBoolean;
import java.util.function.Consumer;
import java.util.function.Supplier;

/**
 * Running or paused, for one service instance. The stage's intake (HTTP, consumers) listens to it;
 * the control endpoints and the cluster control bus flip it. Status details come from the stage.
 */
public final class StageControl {

  private final AtomicBoolean paused;
  private final List<Consumer<Boolean>> listeners;
  private final List<Supplier<JsonObject>> statusSources = new CopyOnWriteArrayList<>();

  public StageControl() {
    this(new AtomicBoolean(), new CopyOnWriteArrayList<>());
  }

  private StageControl(AtomicBoolean paused, List<Consumer<Boolean>> listeners) {
    this.paused = paused;
    this.listeners = listeners;
  }

  /** The control of another stage of the same fused process: paused and resumed with this one, with a status of its own. */
  public StageControl alongside() {
    return new StageControl(paused, listeners);
  }

  public boolean isPaused() {
    return paused.get();
  }

  /** Returns true when the state changed. */
  public boolean pause() {
    return set(true);
  }

  public boolean resume() {
    return set(false);
  }

  /** Called with true on pause and false on resume, on the thread that changed the state. */
  public void onChange(Consumer<Boolean> listener) {
    listeners.add(listener);
  }

  /** Adds fields (assigned partitions, lag, counters...) to /control/status. */
  public void addStatus(Supplier<JsonObject> source) {
    statusSources.add(source);
  }

  public JsonObject status() {
    JsonObject status = new JsonObject().put("state", isPaused() ? "paused" : "running");
    for (Supplier<JsonObject> source : statusSources) {
      status.mergeIn(source.get(), true);
    }
    return status;
  }

  private boolean set(boolean value) {
    if (paused.getAndSet(value) == value) {
      return false;
    }
    listeners.forEach(l -> l.accept(value));
    return true;
  }
}
