import type { ClusterSpec } from "../config/schema";
import { renderTlsConf } from "./tls";

/**
 * The shared redis.conf of every node. It holds no secret and no per-node address: the entrypoint
 * appends port, bind, dir, announce settings and the password at start (infra/scripts/entrypoint.sh),
 * so one text serves Docker, Kubernetes (ConfigMap) and the local harness.
 */
export function renderRedisConf(spec: ClusterSpec): string {
  const lines = [
    `# redis.conf for ${spec.name}: rendered by infra/plan/redisConf.ts; do not edit by hand.`,
    // TLS: no plaintext port; every channel (clients, bus, replication) encrypted (infra/plan/tls.ts).
    ...(spec.tls.enabled ? renderTlsConf(spec) : ["port 6379"]),
    "protected-mode yes",
    "daemonize no",
    // Logs go to stdout: container runtimes collect them, and no log folder has to exist in the image.
    'logfile ""',
    "loglevel notice",
    "",
    "cluster-enabled yes",
    "cluster-config-file nodes.conf",
    `cluster-node-timeout ${spec.nodeTimeoutMs}`,
    "cluster-require-full-coverage yes",
    "cluster-allow-reads-when-down no",
    "cluster-migration-barrier 1",
    `cluster-replica-validity-factor ${spec.clusterReplicaValidityFactor}`,
    "",
    `appendonly ${spec.appendonly ? "yes" : "no"}`,
    `appendfsync ${spec.appendfsync}`,
    'appendfilename "appendonly.aof"',
    'appenddirname "appendonlydir"',
    "aof-use-rdb-preamble yes",
    "save 3600 1 300 100 60 10000",
    "stop-writes-on-bgsave-error yes",
    "",
    "repl-diskless-sync yes",
    `repl-diskless-sync-delay ${spec.replDisklessSyncDelay}`,
    "replica-read-only yes",
    // Writes a master accepts without a connected replica are lost if a replica takes over (asynchronous replication).
    `min-replicas-to-write ${spec.minReplicasToWrite}`,
    `min-replicas-max-lag ${spec.minReplicasMaxLag}`,
    "",
    `maxmemory ${spec.maxmemory}`,
    `maxmemory-policy ${spec.maxmemoryPolicy}`,
    "",
    "tcp-keepalive 60",
    "timeout 0",
    `enable-debug-command ${spec.enableDebugCommand}`,
    "",
  ];
  return lines.join("\n");
}
