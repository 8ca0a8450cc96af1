package io.tributary.common.http;

import io.netty.buffer.ByteBuf;
import io.netty.buffer.Unpooled;
import io.netty.channel.embedded.EmbeddedChannel;
import io.netty.handler.codec.compression.DecompressionException;
import io.netty.handler.codec.compression.ZlibCodecFactory;
import io.netty.handler.codec.compression.ZlibWrapper;
import io.vertx.core.Handler;
import io.vertx.core.buffer.Buffer;
import io.vertx.core.streams.ReadStream;
import java.io.ByteArrayInputStream;
import java.io.EOFException;
import java.io.IOException;
import java.io.InputStream;
import java.util.Locale;
import java.util.zip.GZIPInputStream;
import java.util.zip.Inflater;
import java.util.zip.InflaterInputStream;

/**
 * Request bodies sent with {@code Content-Encoding: gzip} or {@code deflate}. The services decode
 * them here rather than in the HTTP server's codec, which closes the connection without an answer
 * when a body does not decode: here such a body gets a 400 with the reason, an unknown encoding a
 * 415, and the size limit applies to the decoded bytes, so a small bomb cannot fill the heap. A
 * buffered body is inflated with the JDK's streams, which also notice a gzip body cut short; a body
 * read as it arrives goes through Netty's zlib decoder, chunk by chunk.
 */
public final class ContentDecoding {

  /** Compressed input a stream hands the decoder at a time: bounds what one step can inflate to (~1,000× at most). */
  private static final int SLICE = 1024;

  /** A body refused with an HTTP status and a reason. */
  public static final class Refused extends RuntimeException {
    private final int status;

    public Refused(int status, String message) {
      super(message);
      this.status = status;
    }

    public int status() {
      return status;
    }
  }

  private final String encoding;
  private final EmbeddedChannel channel;

  private ContentDecoding(String encoding) {
    this.encoding = encoding;
    this.channel = new EmbeddedChannel(ZlibCodecFactory.newZlibDecoder("gzip".equals(encoding) ? ZlibWrapper.GZIP : ZlibWrapper.ZLIB_OR_NONE, 0));
  }

  /** The encoding a Content-Encoding header names: null for none or identity; {@link Refused} 415 for another. */
  private static String encoding(String header) {
    String encoding = header == null ? "identity" : header.trim().toLowerCase(Locale.ROOT);
    return switch (encoding) {
      case "", "identity" -> null;
      case "gzip", "x-gzip" -> "gzip";
      case "deflate" -> "deflate";
      default -> throw new Refused(415, "unsupported Content-Encoding '" + (encoding.length() > 40 ? encoding.substring(0, 40) + "..." : encoding)
          + "'; send gzip, deflate or identity");
    };
  }

  /** A whole body decoded, at most {@code maxBytes} of it: {@link Refused} 400 when it does not decode or ends early, 413 past the limit. */
  public static Buffer decode(String header, Buffer body, long maxBytes) {
    String encoding = encoding(header);
    if (encoding == null || body == null) {
      return body;
    }
    byte[] compressed = body.getBytes();
    Inflater inflater = "gzip".equals(encoding) ? null : new Inflater(!looksLikeZlib(compressed));
    try {
      return inflate(inflater == null ? new GZIPInputStream(new ByteArrayInputStream(compressed))
          : new InflaterInputStream(new ByteArrayInputStream(compressed), inflater), maxBytes);
    } catch (IOException e) {
      throw new Refused(400, "the body is not valid " + encoding + ": "
          + (e instanceof EOFException ? "it ends before its compressed stream does" : String.valueOf(e.getMessage())));
    } finally {
      if (inflater != null) {
        inflater.end();
      }
    }
  }

  private static Buffer inflate(InputStream in, long maxBytes) throws IOException {
    Buffer out = Buffer.buffer();
    byte[] chunk = new byte[8192];
    try (in) {
      for (int n; (n = in.read(chunk)) > 0; ) {
        out.appendBytes(chunk, 0, n);
        if (out.length() > maxBytes) {
          throw new Refused(413, "request body over the limit of " + maxBytes + " bytes once decoded");
        }
      }
    }
    return out;
  }

  /** Whether a deflate body has the zlib header (RFC 1950) that HTTP's "deflate" means; some clients send raw deflate. */
  private static boolean looksLikeZlib(byte[] b) {
    return b.length >= 2 && (b[0] & 0x0F) == 8 && ((b[0] & 0xFF) << 8 | (b[1] & 0xFF)) % 31 == 0;
  }

  /**
   * The decoded stream of {@code in}, for bodies read as they arrive (a bulk load): a failure to
   * decode ends it with a {@link Refused} 400 through its exception handler. A body cut short ends
   * the stream where its decodable bytes do, as a plain body cut short would.
   */
  public static ReadStream<Buffer> decoding(String header, ReadStream<Buffer> in) {
    String encoding = encoding(header);
    return encoding == null ? in : new ContentDecoding(encoding).new Decoded(in);
  }

  /** The decoded bytes of the next compressed chunk. */
  private Buffer next(Buffer compressed) {
    Buffer out = Buffer.buffer();
    try {
      for (int i = 0; i < compressed.length(); i += SLICE) {
        channel.writeInbound(Unpooled.wrappedBuffer(compressed.getBytes(i, Math.min(compressed.length(), i + SLICE))));
        drain(out);
      }
    } catch (DecompressionException e) {
      close();
      throw new Refused(400, "the body is not valid " + encoding + ": " + e.getMessage());
    }
    return out;
  }

  private void drain(Buffer out) {
    ByteBuf chunk;
    while ((chunk = channel.readInbound()) != null) {
      try {
        byte[] bytes = new byte[chunk.readableBytes()];
        chunk.readBytes(bytes);
        out.appendBytes(bytes);
      } finally {
        chunk.release();
      }
    }
  }

  private void close() {
    try {
      channel.finishAndReleaseAll();
    } catch (RuntimeException alreadyReported) {
      // The decoder's failure, thrown again on close: the caller has it already.
    }
  }

  /** The stream of decoded chunks, with the source's backpressure. */
  private final class Decoded implements ReadStream<Buffer> {
    private final ReadStream<Buffer> in;
    private Handler<Throwable> exceptionHandler;
    private Handler<Void> endHandler;
    private boolean failed;

    Decoded(ReadStream<Buffer> in) {
      this.in = in;
    }

    @Override
    public ReadStream<Buffer> exceptionHandler(Handler<Throwable> handler) {
      exceptionHandler = handler;
      in.exceptionHandler(handler);
      return this;
    }

    @Override
    public ReadStream<Buffer> handler(Handler<Buffer> handler) {
      if (handler == null) {
        in.handler(null);
        return this;
      }
      in.handler(chunk -> {
        if (failed) {
          return;
        }
        try {
          Buffer decoded = next(chunk);
          if (decoded.length() > 0) {
            handler.handle(decoded);
          }
        } catch (Refused e) {
          fail(e);
        }
      });
      return this;
    }

    @Override
    public ReadStream<Buffer> endHandler(Handler<Void> handler) {
      endHandler = handler;
      in.endHandler(v -> {
        if (failed) {
          return;
        }
        close();
        if (endHandler != null) {
          endHandler.handle(null);
        }
      });
      return this;
    }

    private void fail(Refused e) {
      failed = true;
      if (exceptionHandler != null) {
        exceptionHandler.handle(e);
      }
    }

    @Override
    public ReadStream<Buffer> pause() {
      in.pause();
      return this;
    }

    @Override
    public ReadStream<Buffer> resume() {
      in.resume();
      return this;
    }

    @Override
    public ReadStream<Buffer> fetch(long amount) {
      in.fetch(amount);
      return this;
    }
  }
}
