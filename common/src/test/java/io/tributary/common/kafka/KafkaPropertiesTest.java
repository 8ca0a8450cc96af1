package io.tributary.common.kafka;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import io.tributary.common.config.ServiceConfig;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.Map;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

class KafkaPropertiesTest {

  @TempDir
  Path dir;

  @Test
  void sharedPropertiesReachEveryClientThatKnowsThemAndScopedOnesWin() throws Exception {
    Path file = dir.resolve("svc.yaml");
    Files.writeString(file, """
        kafka:
          properties:
            security.protocol: SSL
            client.dns.lookup: use_all_dns_ips
          producer:
            properties:
              linger.ms: 50
        """);
    ServiceConfig config = ServiceConfig.load("enrich", file, Map.of(
        "TRIBUTARY_KAFKA_PROPERTIES_SECURITY_PROTOCOL", "SASL_SSL",
        "TRIBUTARY_KAFKA_PROPERTIES_LINGER_MS", "20",
        "TRIBUTARY_KAFKA_CONSUMER_PROPERTIES_CLIENT_RACK", "eu-west-1a"));

    Map<String, String> producer = KafkaSettings.transactionalProducer(config, "p", "tx");
    Map<String, String> consumer = KafkaSettings.consumer(config, "c", "g");
    Map<String, String> admin = KafkaSettings.admin(config, "a");
    assertThat(producer).containsEntry("security.protocol", "SASL_SSL").containsEntry("linger.ms", "50")
        .containsEntry("client.dns.lookup", "use_all_dns_ips").containsEntry("transactional.id", "tx").containsEntry("acks", "all");
    assertThat(consumer).containsEntry("security.protocol", "SASL_SSL").containsEntry("client.rack", "eu-west-1a")
        .containsEntry("isolation.level", "read_committed").doesNotContainKey("linger.ms");
    assertThat(admin).containsEntry("security.protocol", "SASL_SSL").doesNotContainKeys("linger.ms", "client.rack");
  }

  @Test
  void secretsComeFromTheEnvironmentOrAFileAndAreNeverShown() throws Exception {
    Path jaas = dir.resolve("jaas");
    Files.writeString(jaas, "org.apache.kafka.common.security.plain.PlainLoginModule required username=\"u\" password=\"p4ss\";\n");
    ServiceConfig config = ServiceConfig.load("ingest", null, Map.of(
        "TRIBUTARY_KAFKA_PROPERTIES_SASL_JAAS_CONFIG_FILE", jaas.toString(),
        "TRIBUTARY_KAFKA_PROPERTIES_SSL_KEYSTORE_KEY", "-----BEGIN PRIVATE KEY-----x",
        "TRIBUTARY_KAFKA_PROPERTIES_SASL_OAUTHBEARER_ASSERTION_FILE", "/var/run/assertion"));
    KafkaProperties properties = KafkaProperties.from(config);
    assertThat(KafkaSettings.admin(config, "a"))
        .containsEntry("sasl.jaas.config", "org.apache.kafka.common.security.plain.PlainLoginModule required username=\"u\" password=\"p4ss\";")
        .containsEntry("ssl.keystore.key", "-----BEGIN PRIVATE KEY-----x")
        // a property whose own name ends in .file is a property, not a secret read from a file
        .containsEntry("sasl.oauthbearer.assertion.file", "/var/run/assertion");
    assertThat(properties.describe().toString()).doesNotContain("p4ss", "PRIVATE KEY").contains("sasl.jaas.config=****");
  }

  @Test
  void aSecretInTheFileIsRefusedWithoutEchoingIt() throws Exception {
    Path file = dir.resolve("svc.yaml");
    Files.writeString(file, "kafka:\n  properties:\n    ssl.keystore.key: hunter2\n");
    ServiceConfig config = ServiceConfig.load("ingest", file, Map.of());
    assertThatThrownBy(() -> KafkaProperties.from(config))
        .hasMessageContaining("'kafka.properties.ssl.keystore.key' is a secret")
        .hasMessageContaining("TRIBUTARY_KAFKA_PROPERTIES_SSL_KEYSTORE_KEY")
        .hasMessageNotContaining("hunter2");
    Files.writeString(file, "kafka:\n  properties:\n    sasl.jaas.config: hunter2\n");
    assertThatThrownBy(() -> ServiceConfig.load("ingest", file, Map.of()))
        .hasMessageContaining("is a secret").hasMessageNotContaining("hunter2");
  }

  @Test
  void unknownAndReservedNamesAreRefused() {
    assertThatThrownBy(() -> KafkaProperties.from(ServiceConfig.load("ingest", null,
        Map.of("TRIBUTARY_KAFKA_PROPERTIES_SECURITY_PROTOCOLL", "SSL"))))
        .hasMessageContaining("'kafka.properties.security.protocoll'").hasMessageContaining("not a property of any Kafka client");
    assertThatThrownBy(() -> KafkaProperties.from(ServiceConfig.load("ingest", null,
        Map.of("TRIBUTARY_KAFKA_ADMIN_PROPERTIES_LINGER_MS", "5"))))
        .hasMessageContaining("not a property of a Kafka admin client");
    assertThatThrownBy(() -> KafkaProperties.from(ServiceConfig.load("ingest", null,
        Map.of("TRIBUTARY_KAFKA_PRODUCER_PROPERTIES_ACKS", "1"))))
        .hasMessageContaining("'kafka.producer.properties.acks' cannot be set");
    assertThatThrownBy(() -> KafkaProperties.from(ServiceConfig.load("ingest", null,
        Map.of("TRIBUTARY_KAFKA_PROPERTIES_ISOLATION_LEVEL", "read_uncommitted"))))
        .hasMessageContaining("exactly-once");
  }
}
