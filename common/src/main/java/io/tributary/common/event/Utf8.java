package io.tributary.common.event;

/**
 * Strict UTF-8 (RFC 3629): the JSON parser decodes overlong forms and encoded surrogates without
 * complaint, so events are checked before it reads them.
 */
public final class Utf8 {

  private Utf8() {
  }

  /** The index of the first byte of the first malformed sequence, or -1 when all of it is well-formed. */
  public static int firstMalformed(byte[] bytes) {
    int i = 0;
    int n = bytes.length;
    while (i < n) {
      int b = bytes[i];
      if (b >= 0) {
        i++;
        continue;
      }
      b &= 0xFF;
      int length;
      int min;
      int max = 0xBF;
      if (b >= 0xC2 && b <= 0xDF) {
        length = 2;
        min = 0x80;
      } else if (b >= 0xE0 && b <= 0xEF) {
        length = 3;
        // E0 needs A0..BF (no overlong forms), ED needs 80..9F (no surrogates).
        min = b == 0xE0 ? 0xA0 : 0x80;
        max = b == 0xED ? 0x9F : 0xBF;
      } else if (b >= 0xF0 && b <= 0xF4) {
        length = 4;
        // F0 needs 90..BF (no overlong forms), F4 needs 80..8F (nothing above U+10FFFF).
        min = b == 0xF0 ? 0x90 : 0x80;
        max = b == 0xF4 ? 0x8F : 0xBF;
      } else {
        return i;
      }
      if (i + length > n) {
        return i;
      }
      int second = bytes[i + 1] & 0xFF;
      if (second < min || second > max) {
        return i;
      }
      for (int k = 2; k < length; k++) {
        int c = bytes[i + k] & 0xFF;
        if (c < 0x80 || c > 0xBF) {
          return i;
        }
      }
      i += length;
    }
    return -1;
  }
}
