package io.tributary.common.pipeline;

/** Where state or reference data lives: Redis, or SQL (SingleStore, or MariaDB standing in for it). */
public enum Store { REDIS, SQL }
