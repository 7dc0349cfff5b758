import type { ClusterSpec } from "../config/schema";
import { renderRedisConf } from "./redisConf";
import { readScript } from "./scripts";
import { canaryJob } from "../config/canary";
import { DEFAULT_CANARY_PORT } from "../../smoke/canary/server";
import { httpUrl, planBackup, planRestore, type BackupPlan, type RestorePlan } from "./backup";
import { externalAccessPlan, preferredEndpointType } from "./externalAccess";

/** Paths inside a container or pod where the plan's files are delivered. */
export const CONTAINER_PATHS = {
  dir: "/etc/redis-cluster",
  redisConf: "/etc/redis-cluster/redis.conf",
  entrypoint: "/etc/redis-cluster/entrypoint.sh",
  bootstrap: "/etc/redis-cluster/bootstrap.sh",
  data: "/data",
  run: "/tmp/redis-cluster",
} as const;

export const REDIS_PORT = 6379;
export const BUS_PORT_OFFSET = 10000;

export interface PlannedNode {
  index: number;
  /** Stable name: container name, pod name or local node name. */
  name: string;
  /** Shard (master index) the node is planned to serve. */
  shard: number;
  /** Role intended at creation; failovers may swap it later. */
  role: "master" | "replica";
  /** Address peers and in-network clients use; announced by the node. */
  host: string;
  port: number;
  busPort: number;
  /** Kubernetes with externalAccess: the name announced to clients (`<pod>.<domain>`); peers keep using `host`. */
  externalHost?: string;
  /** Docker: ports published on the host. */
  hostPort?: number;
  hostBusPort?: number;
}

/** Where nodes live: the spec's platform, or local processes on given loopback ports (the harness). */
export type Placement =
  | { kind: "docker" }
  | { kind: "kubernetes" }
  | { kind: "local"; ports: number[]; hosts?: string[] };

export interface ClusterPlan {
  name: string;
  masters: number;
  replicasPerMaster: number;
  nodes: PlannedNode[];
  /** Shared, secret-free redis.conf. */
  redisConf: string;
  entrypointScript: string;
  bootstrapScript: string;
  /** Environment of the bootstrap script (no secret; REDISCLI_AUTH is added by the platform). */
  bootstrapEnv: Record<string, string>;
  /** "host:port" of every node, as seen inside the cluster network. */
  seeds: string[];
  /** Docker only: ioredis natMap for clients on the host ("ip:port" -> published host:port). */
  natMap: Record<string, { host: string; port: number }>;
  /** Seeds reachable from the host (published ports on docker, the nodes themselves elsewhere). */
  hostSeeds: string[];
  /** Kubernetes with externalAccess: "<pod>.<domain>:6379" of every node, where clients outside Kubernetes start. */
  externalSeeds?: string[];
  /** Where an application inside the cluster's network starts: the client Service on Kubernetes, the nodes elsewhere. */
  clientSeeds: string[];
  /**
   * canary.enabled: where the smoke step reads the canary's view of the deploy (GET /view): its published port on
   * Docker (the smoke runs on the host), its Service on Kubernetes (the smoke Job runs in the namespace).
   */
  canaryUrl?: string;
  /** backup.enabled: the backup runs' arguments, repository, Pushgateway and user (./backup.ts). */
  backup?: BackupPlan;
  /** restore.snapshot: the restore run of a new stack, between the bootstrap and the smoke test (./backup.ts). */
  restore?: RestorePlan;
}

/** Kubernetes names shared by the plan and the Kubernetes component. */
export function kubernetesNames(spec: ClusterSpec) {
  const statefulSet = spec.name;
  const headlessService = `${spec.name}-headless`;
  const ns = spec.kubernetes.namespace;
  const pod = (i: number) => `${statefulSet}-${i}`;
  /** The DNS domain of the pods' stable names (under the headless Service). */
  const podDomain = `${headlessService}.${ns}.svc.cluster.local`;
  const hostOf = (podName: string) => `${podName}.${podDomain}`;
  return {
    statefulSet,
    headlessService,
    podDomain,
    clientService: spec.name,
    pod,
    hostOf,
    podHost: (i: number) => hostOf(pod(i)),
  };
}

/**
 * Addresses of the dev Docker network (a /24): gateway .1; node i at .(11+i), static so that nodes.conf stays
 * valid across container re-creation; containers without a fixed address draw from .128/25 only.
 */
export function dockerAddressing(subnet: string) {
  const prefix = subnet.replace(/\.0\/24$/, "");
  return { subnet, gateway: `${prefix}.1`, dynamicRange: `${prefix}.128/25`, nodeIp: (i: number) => `${prefix}.${11 + i}` };
}

/** Pure: the node list, the shared files and the bootstrap inputs for a validated spec. */
export function planCluster(spec: ClusterSpec, placement: Placement = { kind: spec.platform }): ClusterPlan {
  const count = spec.masters * (1 + spec.replicasPerMaster);
  if (placement.kind === "local" && placement.ports.length !== count) {
    throw new Error(`planCluster: ${count} nodes need ${count} ports, got ${placement.ports.length}`);
  }
  const nodes: PlannedNode[] = [];
  for (let i = 0; i < count; i++) {
    // redis-cli --cluster create makes the first `masters` addresses masters, then assigns replicas round-robin.
    const role = i < spec.masters ? "master" : "replica";
    const shard = i % spec.masters;
    const base = { index: i, role, shard } as const;
    switch (placement.kind) {
      case "docker":
        nodes.push({
          ...base,
          name: `${spec.name}-node-${i}`,
          host: dockerAddressing(spec.docker.subnet).nodeIp(i),
          port: REDIS_PORT,
          busPort: REDIS_PORT + BUS_PORT_OFFSET,
          hostPort: spec.docker.hostPortBase + i,
          hostBusPort: spec.docker.hostPortBase + i + spec.docker.busPortOffset,
        });
        break;
      case "kubernetes": {
        const pod = kubernetesNames(spec).pod(i);
        const external = externalAccessPlan(spec);
        nodes.push({ ...base, name: pod, host: kubernetesNames(spec).podHost(i), port: REDIS_PORT, busPort: REDIS_PORT + BUS_PORT_OFFSET, ...(external && { externalHost: external.hostOf(pod) }) });
        break;
      }
      case "local":
        nodes.push({
          ...base,
          name: `node-${i}`,
          host: placement.hosts?.[i] ?? "127.0.0.1",
          port: placement.ports[i],
          busPort: placement.ports[i] + BUS_PORT_OFFSET,
        });
        break;
    }
  }
  const seeds = nodes.map((n) => `${n.host}:${n.port}`);
  const backup = planBackup(spec, placement.kind);
  const restore = planRestore(spec);
  const natMap: ClusterPlan["natMap"] = {};
  if (placement.kind === "docker") {
    for (const n of nodes) natMap[`${n.host}:${n.port}`] = { host: spec.docker.announceHost, port: n.hostPort! };
  }
  return {
    name: spec.name,
    masters: spec.masters,
    replicasPerMaster: spec.replicasPerMaster,
    nodes,
    redisConf: renderRedisConf(spec),
    entrypointScript: readScript("entrypoint"),
    bootstrapScript: readScript("bootstrap"),
    bootstrapEnv: {
      REDIS_NODES: seeds.join(" "),
      REDIS_MASTERS: String(spec.masters),
      REDIS_REPLICAS: String(spec.replicasPerMaster),
      BOOTSTRAP_TIMEOUT: "300",
    },
    seeds,
    natMap,
    hostSeeds: placement.kind === "docker" ? nodes.map((n) => `${spec.docker.announceHost}:${n.hostPort}`) : seeds,
    ...(nodes.some((n) => n.externalHost) && { externalSeeds: nodes.map((n) => `${n.externalHost}:${n.port}`) }),
    clientSeeds: placement.kind === "kubernetes" ? [`${kubernetesNames(spec).clientService}.${spec.kubernetes.namespace}.svc.cluster.local:${REDIS_PORT}`] : seeds,
    ...(spec.canary.enabled && placement.kind !== "local" && {
      canaryUrl: placement.kind === "kubernetes"
        ? `http://${canaryJob(spec.name)}.${spec.kubernetes.namespace}.svc.cluster.local:${DEFAULT_CANARY_PORT}`
        : httpUrl(spec.docker.announceHost, spec.docker.canaryPort),
    }),
    ...(backup && { backup }),
    ...(restore && { restore }),
  };
}

/** Environment of one node's entrypoint on Docker or local processes (no secret: the platform adds REDISCLI_AUTH or REDIS_PASSWORD_FILE). */
export function nodeEnv(node: PlannedNode, kind: Exclude<Placement["kind"], "kubernetes">): Record<string, string> {
  switch (kind) {
    case "docker":
      return { REDIS_PORT: String(node.port), REDIS_ANNOUNCE_IP: node.host };
    case "local":
      return { REDIS_PORT: String(node.port), REDIS_BIND: node.host, REDIS_ANNOUNCE_IP: node.host };
  }
}

/**
 * Kubernetes: what a pod's entrypoint is told of its identity (no secret). The StatefulSet's one template serves every
 * ordinal, so it passes `$(POD_NAME)` and `$(POD_IP)` (the kubelet expands them); a test passes one pod's values.
 */
export function podNodeEnv(spec: ClusterSpec, pod: { name: string; ip: string }): Record<string, string> {
  const names = kubernetesNames(spec);
  const external = externalAccessPlan(spec);
  return {
    REDIS_PORT: String(REDIS_PORT),
    // Peers and clients reach the pod at its current IP; the stable name goes into nodes.conf and lets
    // refresh-peers.sh find every peer's new IP after restarts.
    REDIS_ANNOUNCE_IP: pod.ip,
    // With externalAccess clients get the external name, and refresh-peers.sh finds peers under the pods' domain
    // instead (the external name resolves to a load balancer, which carries no bus port).
    REDIS_ANNOUNCE_HOSTNAME: external ? external.hostOf(pod.name) : names.hostOf(pod.name),
    ...(external && { REDIS_PEER_DOMAIN: names.podDomain }),
    REDIS_PREFERRED_ENDPOINT_TYPE: preferredEndpointType(spec),
  };
}
