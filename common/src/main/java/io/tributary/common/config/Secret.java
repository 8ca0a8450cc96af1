package io.tributary.common.config;

import java.nio.charset.StandardCharsets;
import java.security.MessageDigest;

/** A secret value (token, password) that never shows in logs, toString or JSON. */
public final class Secret {

  private static final Secret NONE = new Secret("");
  private final String value;

  private Secret(String value) {
    this.value = value;
  }

  public static Secret of(String value) {
    return value == null || value.isEmpty() ? NONE : new Secret(value);
  }

  public static Secret none() {
    return NONE;
  }

  public boolean isPresent() {
    return !value.isEmpty();
  }

  /** The value itself, for handing to a client library. Never log it. */
  public String reveal() {
    return value;
  }

  /**
   * Compares in time that depends on neither the content nor the length of the secret: both sides
   * are hashed first, so the comparison is always of two 32-byte digests.
   */
  public boolean matches(String candidate) {
    if (candidate == null || value.isEmpty()) {
      return false;
    }
    return MessageDigest.isEqual(sha256(value), sha256(candidate));
  }

  private static byte[] sha256(String text) {
    try {
      return MessageDigest.getInstance("SHA-256").digest(text.getBytes(StandardCharsets.UTF_8));
    } catch (java.security.NoSuchAlgorithmException e) {
      throw new IllegalStateException(e);
    }
  }

  @Override
  public String toString() {
    return isPresent() ? "****" : "(none)";
  }
}
