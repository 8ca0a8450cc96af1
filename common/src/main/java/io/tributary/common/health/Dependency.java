package io.tributary.common.health;

/** The external servers a stage can depend on. */
public enum Dependency {
  KAFKA, REDIS, SQL, RABBITMQ
}
