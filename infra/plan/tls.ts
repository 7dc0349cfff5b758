import type { ClusterSpec } from "../config/schema";

/**
 * Where a container or pod finds its TLS files. The names are those of a `kubernetes.io/tls` Secret made by
 * cert-manager (tls.crt, tls.key, ca.crt), so one Secret layout serves @pulumi/tls and cert-manager alike.
 */
export const TLS_FILES = {
  dir: "/etc/redis-cluster/tls",
  cert: "/etc/redis-cluster/tls/tls.crt",
  key: "/etc/redis-cluster/tls/tls.key",
  ca: "/etc/redis-cluster/tls/ca.crt",
} as const;

/** Client certificate of the one-shot steps (bootstrap, smoke test) and the exporter, when they run outside a node. */
export const TLS_CLIENT_FILES = {
  dir: "/etc/redis-cluster/tls-client",
  cert: "/etc/redis-cluster/tls-client/tls.crt",
  key: "/etc/redis-cluster/tls-client/tls.key",
  ca: "/etc/redis-cluster/tls-client/ca.crt",
} as const;

export interface TlsFilePaths {
  cert: string;
  key: string;
  ca: string;
}

/**
 * redis.conf lines of TLS on every channel. The plaintext port is off (`port 0`); the entrypoint writes the node's own
 * `tls-port` and, where they differ from these container paths (the local harness), the file paths after this file.
 * One certificate per node serves both directions: Redis presents tls-cert-file to clients and, on the bus and to
 * its master, as its client certificate (no tls-client-cert-file), so it carries serverAuth and clientAuth.
 */
export function renderTlsConf(spec: ClusterSpec, files: TlsFilePaths = TLS_FILES): string[] {
  return [
    "# TLS on the client port, the cluster bus and replication (tls.enabled); no plaintext port.",
    "port 0",
    "tls-port 6379",
    "tls-cluster yes",
    "tls-replication yes",
    `tls-auth-clients ${spec.tls.authClients}`,
    `tls-cert-file ${files.cert}`,
    `tls-key-file ${files.key}`,
    `tls-ca-cert-file ${files.ca}`,
    'tls-protocols "TLSv1.2 TLSv1.3"',
    "tls-prefer-server-ciphers yes",
  ];
}

/**
 * Environment of every script and client that speaks to a node (contract of issue #12): redis-cli gets
 * `--tls --cacert` from REDIS_TLS_CA_FILE and `--cert/--key` from REDIS_TLS_CERT_FILE/KEY; the entrypoint reads
 * the same names for the server's files.
 */
export function tlsEnv(files: TlsFilePaths): Record<string, string> {
  return { REDIS_TLS_CA_FILE: files.ca, REDIS_TLS_CERT_FILE: files.cert, REDIS_TLS_KEY_FILE: files.key };
}

/**
 * redis_exporter's TLS settings as environment (1.45 Debian and 1.67 read the same names; no argv needed, so the
 * image's entrypoint stays as it is). The address must also say rediss://.
 */
export function exporterTlsEnv(files: TlsFilePaths): Record<string, string> {
  return {
    REDIS_EXPORTER_TLS_CA_CERT_FILE: files.ca,
    REDIS_EXPORTER_TLS_CLIENT_CERT_FILE: files.cert,
    REDIS_EXPORTER_TLS_CLIENT_KEY_FILE: files.key,
  };
}

/** The exporter's REDIS_ADDR of a node. */
export function exporterAddress(tls: boolean, host: string, port: number): string {
  return `${tls ? "rediss" : "redis"}://${host}:${port}`;
}
