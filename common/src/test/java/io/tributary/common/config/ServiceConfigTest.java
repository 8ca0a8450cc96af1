package io.tributary.common.config;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import java.nio.file.Files;
import java.nio.file.Path;
import java.util.Map;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

class ServiceConfigTest {

  @TempDir
  Path dir;

  @Test
  void fileOverridesDefaultsAndEnvironmentOverridesFile() throws Exception {
    Path file = dir.resolve("enrich.yaml");
    Files.writeString(file, "http:\n  port: 9000\nkafka:\n  bootstrapServers: k1:9092\n");
    Map<String, String> env = Map.of("TRIBUTARY_KAFKA_BOOTSTRAP_SERVERS", "k2:9092");
    ServiceConfig config = ServiceConfig.load("enrich", file, env);
    assertThat(config.getInt("http.port")).isEqualTo(9000);
    assertThat(config.get("kafka.bootstrapServers")).isEqualTo("k2:9092");
    assertThat(config.get("redis.uri")).isEqualTo("redis://127.0.0.1:6379");
  }

  @Test
  void defaultPortsDifferPerStage() {
    assertThat(ServiceConfig.load("ingest", null, Map.of()).getInt("http.port")).isEqualTo(8080);
    assertThat(ServiceConfig.load("enrich", null, Map.of()).getInt("http.port")).isEqualTo(8081);
    assertThat(ServiceConfig.load("aggregate", null, Map.of()).getInt("http.port")).isEqualTo(8082);
  }

  @Test
  void secretsAreRefusedInTheFile() throws Exception {
    Path file = dir.resolve("bad.yaml");
    Files.writeString(file, "redis:\n  password: hunter2\n");
    assertThatThrownBy(() -> ServiceConfig.load("enrich", file, Map.of()))
        .hasMessageContaining("'redis.password' is a secret")
        .hasMessageContaining("TRIBUTARY_REDIS_PASSWORD")
        .hasMessageNotContaining("hunter2");
  }

  @Test
  void unknownKeysAreRefused() throws Exception {
    Path file = dir.resolve("bad.yaml");
    Files.writeString(file, "htp:\n  port: 1\n");
    assertThatThrownBy(() -> ServiceConfig.load("ingest", file, Map.of())).hasMessageContaining("unknown key 'htp.port'");
  }

  @Test
  void secretsComeFromTheEnvironmentOrAFileAndNeverPrint() throws Exception {
    Path tokenFile = dir.resolve("token");
    Files.writeString(tokenFile, "s3cret-from-file\n");
    ServiceConfig fromFile = ServiceConfig.load("ingest", null, Map.of("TRIBUTARY_CONTROL_TOKEN_FILE", tokenFile.toString()));
    Secret secret = fromFile.secret("CONTROL_TOKEN");
    assertThat(secret.matches("s3cret-from-file")).isTrue();
    assertThat(secret.matches("s3cret")).isFalse();
    assertThat(secret.toString()).isEqualTo("****").doesNotContain("s3cret");
    assertThat(fromFile.describe().toString()).doesNotContain("s3cret");

    ServiceConfig fromEnv = ServiceConfig.load("ingest", null, Map.of("TRIBUTARY_CONTROL_TOKEN", "abc"));
    assertThat(fromEnv.secret("CONTROL_TOKEN").matches("abc")).isTrue();
    assertThat(ServiceConfig.load("ingest", null, Map.of()).secret("CONTROL_TOKEN").matches("")).isFalse();
  }

  @Test
  void credentialsInUrisAreMaskedWhenDescribed() {
    ServiceConfig config = ServiceConfig.load("enrich", null, Map.of("TRIBUTARY_REDIS_URI", "redis://app:pa55@cache:6379/0"));
    assertThat(config.get("redis.uri")).isEqualTo("redis://app:pa55@cache:6379/0");
    assertThat(config.describe().get("redis.uri")).isEqualTo("redis://****@cache:6379/0");
  }

  @Test
  void environmentNamesFollowTheKeys() {
    assertThat(ServiceConfig.envName("kafka.bootstrapServers")).isEqualTo("TRIBUTARY_KAFKA_BOOTSTRAP_SERVERS");
    assertThat(ServiceConfig.envName("http.port")).isEqualTo("TRIBUTARY_HTTP_PORT");
  }

  @Test
  void badNumbersNameTheKeyAndItsVariable() {
    ServiceConfig config = ServiceConfig.load("ingest", null, Map.of("TRIBUTARY_HTTP_PORT", "eighty"));
    assertThatThrownBy(() -> config.getInt("http.port")).hasMessageContaining("TRIBUTARY_HTTP_PORT").hasMessageContaining("eighty");
  }
}
