package io.tributary.devstack;

import java.io.IOException;
import java.io.InputStream;
import java.io.UncheckedIOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.security.GeneralSecurityException;
import java.security.Key;
import java.security.KeyStore;
import java.util.ArrayList;
import java.util.Base64;
import java.util.List;
import java.util.concurrent.TimeUnit;

/**
 * A self-signed certificate for 127.0.0.1 and localhost, made at test time with the JDK's keytool:
 * a PKCS#12 key store for Kafka's listener, the same key and certificate as PEM files for Redis, and
 * a PKCS#12 trust store (and the PEM certificate) for the clients.
 */
public final class TlsFiles {

  private final Path dir;
  private final String password;

  private TlsFiles(Path dir, String password) {
    this.dir = dir;
    this.password = password;
  }

  public static TlsFiles create(Path dir) {
    String password = "devstack-" + Long.toHexString(Double.doubleToLongBits(Math.random()));
    TlsFiles files = new TlsFiles(dir, password);
    try {
      Files.createDirectories(dir);
      files.keytool("-genkeypair", "-alias", "server", "-keyalg", "RSA", "-keysize", "2048", "-validity", "2",
          "-dname", "CN=localhost", "-ext", "SAN=ip:127.0.0.1,dns:localhost",
          "-keystore", files.keyStore().toString(), "-storetype", "PKCS12", "-storepass", password, "-keypass", password);
      files.keytool("-exportcert", "-rfc", "-alias", "server", "-keystore", files.keyStore().toString(), "-storepass", password,
          "-file", files.certificatePem().toString());
      files.keytool("-importcert", "-noprompt", "-alias", "server", "-file", files.certificatePem().toString(),
          "-keystore", files.trustStore().toString(), "-storetype", "PKCS12", "-storepass", password);
      files.writePrivateKeyPem();
      return files;
    } catch (IOException e) {
      throw new UncheckedIOException(e);
    }
  }

  public Path keyStore() {
    return dir.resolve("server.p12");
  }

  public Path trustStore() {
    return dir.resolve("truststore.p12");
  }

  public Path certificatePem() {
    return dir.resolve("server.crt");
  }

  public Path privateKeyPem() {
    return dir.resolve("server.key");
  }

  /** The password of both stores. */
  public String password() {
    return password;
  }

  private void writePrivateKeyPem() throws IOException {
    try (InputStream in = Files.newInputStream(keyStore())) {
      KeyStore store = KeyStore.getInstance("PKCS12");
      store.load(in, password.toCharArray());
      Key key = store.getKey("server", password.toCharArray());
      String body = Base64.getMimeEncoder(64, "\n".getBytes(StandardCharsets.US_ASCII)).encodeToString(key.getEncoded());
      Files.writeString(privateKeyPem(), "-----BEGIN PRIVATE KEY-----\n" + body + "\n-----END PRIVATE KEY-----\n");
    } catch (GeneralSecurityException e) {
      throw new IllegalStateException("cannot read the key keytool made", e);
    }
  }

  private void keytool(String... args) throws IOException {
    List<String> command = new ArrayList<>(List.of(Path.of(System.getProperty("java.home"), "bin", "keytool").toString()));
    command.addAll(List.of(args));
    Path out = dir.resolve("keytool.out");
    Process process = new ProcessBuilder(command).redirectErrorStream(true).redirectOutput(out.toFile()).start();
    try {
      if (!process.waitFor(60, TimeUnit.SECONDS) || process.exitValue() != 0) {
        throw new IllegalStateException("keytool " + args[0] + " failed: " + Files.readString(out).strip());
      }
    } catch (InterruptedException e) {
      Thread.currentThread().interrupt();
      throw new IllegalStateException("interrupted while running keytool", e);
    }
  }
}
