package io.tributary.common.cluster;

import com.hazelcast.config.Config;
import com.hazelcast.config.JoinConfig;
import io.tributary.common.config.ServiceConfig;
import io.vertx.spi.cluster.hazelcast.ConfigUtil;
import io.vertx.spi.cluster.hazelcast.HazelcastClusterManager;

/** Hazelcast for the control cluster: TCP-IP join on the configured members, or Kubernetes discovery. */
public final class ClusterSetup {

  private ClusterSetup() {
  }

  public static HazelcastClusterManager clusterManager(ServiceConfig config, String pipeline) {
    Config hazelcast = ConfigUtil.loadConfig();
    hazelcast.setClusterName("tributary-" + pipeline);
    hazelcast.setProperty("hazelcast.shutdownhook.enabled", "false");
    hazelcast.setProperty("hazelcast.logging.type", "slf4j");
    hazelcast.setProperty("hazelcast.phone.home.enabled", "false");
    // The cluster carries control messages only, no data: a few partitions and threads are plenty,
    // and Hazelcast's defaults (271 partitions, threads per core) cost every instance CPU for nothing.
    hazelcast.setProperty("hazelcast.partition.count", "7");
    hazelcast.setProperty("hazelcast.operation.thread.count", "1");
    hazelcast.setProperty("hazelcast.operation.generic.thread.count", "1");
    hazelcast.setProperty("hazelcast.io.thread.count", "1");
    hazelcast.setProperty("hazelcast.event.thread.count", "1");
    hazelcast.setProperty("hazelcast.health.monitoring.level", "OFF");
    // Instances started at the same moment join in the background and may each form a cluster of one;
    // Hazelcast merges such clusters only after 300 s by default, leaving scope=cluster short of members.
    hazelcast.setProperty("hazelcast.merge.first.run.delay.seconds", "5");
    hazelcast.setProperty("hazelcast.merge.next.run.delay.seconds", "5");
    hazelcast.getNetworkConfig().setPort(config.getInt("cluster.port")).setPortAutoIncrement(true);
    JoinConfig join = hazelcast.getNetworkConfig().getJoin();
    join.getMulticastConfig().setEnabled(false);
    join.getAutoDetectionConfig().setEnabled(false);
    if (config.getBoolean("cluster.kubernetes")) {
      join.getKubernetesConfig().setEnabled(true);
    } else {
      hazelcast.getNetworkConfig().getInterfaces().setEnabled(true).addInterface(config.get("cluster.host"));
      join.getTcpIpConfig().setEnabled(true).setMembers(config.getList("cluster.members"));
    }
    return new HazelcastClusterManager(hazelcast);
  }
}
