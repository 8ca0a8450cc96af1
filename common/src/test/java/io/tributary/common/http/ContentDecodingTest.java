package io.tributary.common.http;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import io.vertx.core.Handler;
import io.vertx.core.buffer.Buffer;
import io.vertx.core.streams.ReadStream;
import java.io.ByteArrayOutputStream;
import java.io.IOException;
import java.nio.charset.StandardCharsets;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.List;
import java.util.zip.Deflater;
import java.util.zip.DeflaterOutputStream;
import java.util.zip.GZIPOutputStream;
import org.junit.jupiter.api.Test;

class ContentDecodingTest {

  private static final String BODY = "{\"txn_id\":\"t1\",\"amount\":12.5}\n".repeat(500);

  private static byte[] gzip(byte[] bytes) throws IOException {
    ByteArrayOutputStream out = new ByteArrayOutputStream();
    try (GZIPOutputStream gz = new GZIPOutputStream(out)) {
      gz.write(bytes);
    }
    return out.toByteArray();
  }

  private static byte[] deflate(byte[] bytes, boolean raw) throws IOException {
    ByteArrayOutputStream out = new ByteArrayOutputStream();
    try (DeflaterOutputStream d = new DeflaterOutputStream(out, new Deflater(Deflater.DEFAULT_COMPRESSION, raw))) {
      d.write(bytes);
    }
    return out.toByteArray();
  }

  private static int refusal(String encoding, byte[] body, long limit) {
    try {
      ContentDecoding.decode(encoding, Buffer.buffer(body), limit);
    } catch (ContentDecoding.Refused e) {
      assertThat(e.getMessage()).isNotBlank();
      return e.status();
    }
    return 0;
  }

  @Test
  void gzipAndDeflateBodiesAreDecoded() throws IOException {
    byte[] plain = BODY.getBytes(StandardCharsets.UTF_8);
    assertThat(ContentDecoding.decode("gzip", Buffer.buffer(gzip(plain)), 1 << 20).toString()).isEqualTo(BODY);
    assertThat(ContentDecoding.decode(" GZIP ", Buffer.buffer(gzip(plain)), 1 << 20).toString()).isEqualTo(BODY);
    assertThat(ContentDecoding.decode("deflate", Buffer.buffer(deflate(plain, false)), 1 << 20).toString()).isEqualTo(BODY);
    assertThat(ContentDecoding.decode("deflate", Buffer.buffer(deflate(plain, true)), 1 << 20).toString()).isEqualTo(BODY);
    assertThat(ContentDecoding.decode(null, Buffer.buffer(plain), 10).toString()).isEqualTo(BODY);
    assertThat(ContentDecoding.decode("identity", Buffer.buffer(plain), 10).toString()).isEqualTo(BODY);
  }

  @Test
  void whatDoesNotDecodeIsRefusedWithTheRightStatus() throws IOException {
    byte[] plain = BODY.getBytes(StandardCharsets.UTF_8);
    assertThat(refusal("gzip", plain, 1 << 20)).as("not gzip").isEqualTo(400);
    byte[] gz = gzip(plain);
    assertThat(refusal("gzip", Arrays.copyOf(gz, gz.length / 2), 1 << 20)).as("truncated").isEqualTo(400);
    assertThat(refusal("deflate", new byte[] {1, 2, 3, 4, 5}, 1 << 20)).as("not deflate").isEqualTo(400);
    assertThat(refusal("br", plain, 1 << 20)).isEqualTo(415);
    assertThat(refusal("gzip, br", plain, 1 << 20)).isEqualTo(415);
    // 100 MB of zeros in ~100 KB: refused once the decoded bytes pass the limit, without inflating the rest.
    byte[] bomb = gzip(new byte[100 << 20]);
    assertThat(bomb.length).isLessThan(200_000);
    assertThat(refusal("gzip", bomb, 1 << 20)).isEqualTo(413);
    assertThat(refusal("gzip", gz, plain.length - 1)).isEqualTo(413);
  }

  /** A source handing over the compressed body in small chunks, as a request does. */
  private static final class Chunks implements ReadStream<Buffer> {
    Handler<Buffer> handler;
    Handler<Void> end;
    Handler<Throwable> failure;

    void send(byte[] bytes, int chunk) {
      for (int i = 0; i < bytes.length; i += chunk) {
        handler.handle(Buffer.buffer(Arrays.copyOfRange(bytes, i, Math.min(bytes.length, i + chunk))));
      }
      end.handle(null);
    }

    @Override public ReadStream<Buffer> exceptionHandler(Handler<Throwable> h) { failure = h; return this; }
    @Override public ReadStream<Buffer> handler(Handler<Buffer> h) { handler = h; return this; }
    @Override public ReadStream<Buffer> pause() { return this; }
    @Override public ReadStream<Buffer> resume() { return this; }
    @Override public ReadStream<Buffer> fetch(long amount) { return this; }
    @Override public ReadStream<Buffer> endHandler(Handler<Void> h) { end = h; return this; }
  }

  @Test
  void aStreamIsDecodedAsItArrivesAndABadOneFailsOnce() throws IOException {
    byte[] plain = BODY.getBytes(StandardCharsets.UTF_8);
    Chunks source = new Chunks();
    Buffer out = Buffer.buffer();
    List<Throwable> failures = new ArrayList<>();
    boolean[] ended = {false};
    ReadStream<Buffer> decoded = ContentDecoding.decoding("gzip", source);
    decoded.exceptionHandler(failures::add).endHandler(v -> ended[0] = true).handler(out::appendBuffer);
    source.send(gzip(plain), 100);
    assertThat(out.toString()).isEqualTo(BODY);
    assertThat(ended[0]).isTrue();
    assertThat(failures).isEmpty();

    Chunks bad = new Chunks();
    boolean[] badEnded = {false};
    ContentDecoding.decoding("gzip", bad).exceptionHandler(failures::add).endHandler(v -> badEnded[0] = true).handler(b -> { });
    bad.send(plain, 100);
    assertThat(failures).hasSize(1);
    assertThat(((ContentDecoding.Refused) failures.get(0)).status()).isEqualTo(400);
    assertThat(badEnded[0]).as("a failed stream does not also end").isFalse();
    assertThat(ContentDecoding.decoding(null, source)).isSameAs(source);
  }
}
