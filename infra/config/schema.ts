import { z } from "zod";
import { distance } from "fastest-levenshtein";
import { kubernetesSchema } from "./kubernetes";
import { externalAccessProblems } from "./externalAccess";
import { canarySchema } from "./canary";
import { smokeSchema } from "./smoke";
import { tlsSchema, type TlsSpec } from "./tls";
import { aclSchema, aclSpec, type AclSpec } from "./acl";
import { backupProblems, backupSchema, backupSpecs, restoreSchema, type BackupSpec, type RestoreSpec } from "./backup";
import { parseRedisMemory, parseKubernetesQuantity } from "./units";
import { EXPORTER_IMAGE, PROMETHEUS_IMAGE } from "../../monitoring/images";

/** Pulumi project name; stack config keys are `redis-cluster:<key>`. */
export const PROJECT = "redis-cluster";

const port = z.int().min(1).max(65535);

/** 127.0.0.0/8 or ::1 (an address: Docker binds published ports to it); anything else would publish the unauthenticated cluster bus beyond this host. */
function isLoopback(host: string): boolean {
  if (host === "::1") return true;
  const m = /^127\.(\d{1,3})\.(\d{1,3})\.(\d{1,3})$/.exec(host);
  return !!m && m.slice(1).every((o) => Number(o) <= 255);
}

const MASTERS = { min: 3, max: 100 };
const REPLICAS = { min: 0, max: 5 };
const inRange = (v: unknown, r: { min: number; max: number }) => Number.isInteger(v) && (v as number) >= r.min && (v as number) <= r.max;
/** At most this many lines per kind of cross-field problem; the rest is counted. */
const MAX_LISTED = 5;

// Characters that survive redis.conf quoting, shell env and URLs unchanged.
const PASSWORD_RE = /^[A-Za-z0-9!#%+,\-./:=@^_~]{16,128}$/;

/** Why `password` cannot be a Redis password of this project, or undefined when it can (same rule as the config key). */
export function passwordProblem(password: string): string | undefined {
  return PASSWORD_RE.test(password) ? undefined : "must be 16-128 characters of A-Z a-z 0-9 !#%+,-./:=@^_~";
}

const dockerSchema = z
  .object({
    network: z.string().regex(/^[a-zA-Z0-9][a-zA-Z0-9_.-]*$/).default("redis-cluster").describe("Docker network name (suffixed with the stack name)"),
    subnet: z.string().regex(/^(\d{1,3})\.(\d{1,3})\.(\d{1,3})\.0\/24$/, "must be an IPv4 /24 like 172.28.0.0/24")
      .default("172.28.0.0/24").describe("Subnet of the cluster network; node i gets .(11+i), so announced addresses never change"),
    hostPortBase: port.default(7001).describe("Host port of node 0's client port; node i publishes hostPortBase+i"),
    busPortOffset: z.int().min(1).max(50000).default(10000).describe("Host bus port = host client port + offset"),
    announceHost: z.string().min(1)
      .refine(isLoopback, "must be a loopback address (127.x.x.x or ::1): the published client and cluster-bus ports bind to it and the bus has no authentication; set docker.announceHost: 127.0.0.1")
      .default("127.0.0.1").describe("Loopback address host clients use for the published ports (natMap target); the ports bind to it"),
    prometheusPort: port.default(9090).describe("Host port of the dev Prometheus"),
    canaryPort: port.default(9122).describe("Host port of the canary's /metrics and /view (canary.enabled): the smoke step reads the canary's view of the deploy there"),
    pushgatewayPort: port.default(9091).describe("Host port of the Pushgateway the backup runs push their outcome to (backup.enabled with monitoring.enabled)"),
  })
  .strict();

const monitoringSchema = z
  .object({
    enabled: z.boolean().default(true).describe("Deploy redis_exporter per node, Prometheus rules and dashboards"),
    exporterImage: z.string().min(1).default(EXPORTER_IMAGE).describe("redis_exporter image"),
    prometheusImage: z.string().min(1).default(PROMETHEUS_IMAGE).describe("Prometheus image (docker dev only)"),
  })
  .strict();

export const stackConfigSchema = z
  .object({
    platform: z.enum(["docker", "kubernetes"]).default("docker").describe("Where the cluster runs: docker (dev) or kubernetes (prod)"),
    masters: z.int().min(MASTERS.min).max(MASTERS.max).default(3).describe("Number of masters (shards); Redis Cluster needs at least 3"),
    replicasPerMaster: z.int().min(REPLICAS.min).max(REPLICAS.max).default(1).describe("Replicas per master; 0 disables failover"),
    redisImage: z.string().min(1).default("redis:7.2.5").describe("Redis container image (needs sh, getent and redis-cli)"),
    nodeTimeoutMs: z.int().min(500).max(120_000).default(5000).describe("cluster-node-timeout: how long a node may be unreachable before failover"),
    maxmemory: z.string().refine((v) => parseRedisMemory(v) !== undefined, "must be a redis.conf size like 512mb or 2gb").default("0").describe("maxmemory per node, redis.conf syntax (512mb, 2gb); 0 = no limit"),
    maxmemoryPolicy: z
      .enum(["noeviction", "allkeys-lru", "allkeys-lfu", "allkeys-random", "volatile-lru", "volatile-lfu", "volatile-random", "volatile-ttl"])
      .default("noeviction").describe("Eviction policy when maxmemory is reached"),
    password: z.string().regex(PASSWORD_RE, "must be 16-128 characters of A-Z a-z 0-9 !#%+,-./:=@^_~").optional()
      .describe("Redis password (set with --secret); generated when absent"),
    appendonly: z.boolean().default(true).describe("AOF persistence"),
    appendfsync: z.enum(["always", "everysec", "no"]).default("everysec").describe("AOF fsync policy"),
    minReplicasToWrite: z.int().min(0).max(5).default(0)
      .describe("min-replicas-to-write: a master refuses writes unless this many replicas are connected with lag <= minReplicasMaxLag; bounds what a partitioned master accepts and then loses (docs/chaos.md)"),
    minReplicasMaxLag: z.int().min(1).max(3600).default(10).describe("min-replicas-max-lag in seconds (used with minReplicasToWrite)"),
    clusterReplicaValidityFactor: z.int().min(0).max(1000).default(10)
      .describe("cluster-replica-validity-factor: a replica cut off from its master longer than factor x nodeTimeoutMs does not take over; 0 = it always may"),
    replDisklessSyncDelay: z.int().min(0).max(60).default(5).describe("repl-diskless-sync-delay in seconds (0 = replicas sync at once)"),
    enableDebugCommand: z.enum(["no", "local", "yes"]).optional()
      .describe("enable-debug-command; the smoke kill failover freezes a master with DEBUG SLEEP and needs yes. Default: yes on docker (dev), no on kubernetes"),
    lastDeploymentStack: z.string().regex(/^([A-Za-z0-9_.-]+\/[A-Za-z0-9_.-]+\/)?[A-Za-z0-9_.-]+$/, "must be <stack> or <organization>/<project>/<stack>").optional()
      .describe("The stack the program reads its last deployment's outputs from (itself, through a StackReference: the scale preview and the retired passwords). Default <organization>/<project>/<stack>; a DIY backend in the legacy layout (before Pulumi 3.61; `pulumi state upgrade` moves it) needs the bare stack name"),
    docker: dockerSchema.default(dockerSchema.parse({})).describe("Docker (dev) settings"),
    kubernetes: kubernetesSchema.default(kubernetesSchema.parse({})).describe("Kubernetes (prod) settings"),
    smoke: smokeSchema.default(smokeSchema.parse({})).describe("Smoke test settings"),
    canary: canarySchema.default(canarySchema.parse({})).describe("Continuous canary and its SLO alerts"),
    monitoring: monitoringSchema.default(monitoringSchema.parse({})).describe("Monitoring settings"),
    tls: tlsSchema.default(tlsSchema.parse({})).describe("TLS settings"),
    acl: aclSchema.default(aclSchema.parse({})).describe("ACL users"),
    backup: backupSchema.default(backupSchema.parse({})).describe("Backups into a restic repository (docs/backup.md)"),
    restore: restoreSchema.default({}).describe("Restore of a backup into this stack when it is created (docs/backup.md)"),
  })
  .strict()
  .superRefine((c, ctx) => {
    // Cross-field rules: each names the setting to change. They run even when a field failed its own check, so the
    // sizes they loop over are checked first (masters: 3000000 must not plan millions of ports).
    if (!inRange(c.masters, MASTERS) || !inRange(c.replicasPerMaster, REPLICAS)) return;
    if (typeof c.smoke !== "object" || typeof c.docker !== "object" || typeof c.kubernetes !== "object" || typeof c.monitoring !== "object") return;
    if (typeof c.tls === "object" && c.kubernetes.certManagerIssuer !== undefined && c.platform === "kubernetes" && c.tls.enabled === false) {
      ctx.addIssue({ code: "custom", path: ["kubernetes", "certManagerIssuer"], message: `is set but tls.enabled is false: no certificate is issued without TLS; remove kubernetes.certManagerIssuer or set tls.enabled: true` });
    }
    const maxmemoryBytes = parseRedisMemory(c.maxmemory);
    const failover = c.smoke.failover ?? (c.platform === "docker" ? "kill" : "manual");
    if (c.smoke.enabled && failover !== "none" && c.replicasPerMaster === 0) {
      ctx.addIssue({ code: "custom", path: ["smoke", "failover"], message: `is "${failover}" but replicasPerMaster is 0: there is no replica to fail over to; set smoke.failover to none or replicasPerMaster >= 1` });
    }
    if (Number.isInteger(c.minReplicasToWrite) && c.minReplicasToWrite > c.replicasPerMaster) {
      ctx.addIssue({ code: "custom", path: ["minReplicasToWrite"], message: `is ${c.minReplicasToWrite} but each master has only ${c.replicasPerMaster} replicas: every write would be refused; set minReplicasToWrite <= replicasPerMaster` });
    }
    const debug = c.enableDebugCommand ?? (c.platform === "docker" ? "yes" : "no");
    if (c.smoke.enabled && failover === "kill" && debug !== "yes") {
      ctx.addIssue({ code: "custom", path: ["enableDebugCommand"], message: `must be "yes" for smoke.failover kill (it freezes a master with DEBUG SLEEP); set enableDebugCommand: yes (dev only) or smoke.failover: manual` });
    }
    const d = c.docker;
    const backupOn = typeof c.backup === "object" && c.backup.enabled === true;
    const portsValid = [d.hostPortBase, d.busPortOffset, d.prometheusPort, d.canaryPort, d.pushgatewayPort].every((p) => Number.isInteger(p) && p >= 1 && p <= 65535);
    if (c.platform === "docker" && portsValid) {
      const n = c.masters * (1 + c.replicasPerMaster);
      const used = new Map<number, string>();
      const high: string[] = [];
      const collisions: string[] = [];
      const claim = (p: number, what: string) => {
        if (p > 65535) high.push(`gives ${what} host port ${p}, outside 1..65535; lower docker.hostPortBase or docker.busPortOffset`);
        else if (used.has(p)) collisions.push(`ports collide: ${used.get(p)} and ${what} both use host port ${p}; change docker.hostPortBase, docker.busPortOffset, docker.prometheusPort, docker.canaryPort or docker.pushgatewayPort`);
        else used.set(p, what);
      };
      for (let i = 0; i < n; i++) claim(d.hostPortBase + i, `node ${i} client port`);
      for (let i = 0; i < n; i++) claim(d.hostPortBase + i + d.busPortOffset, `node ${i} bus port`);
      if (c.monitoring.enabled) claim(d.prometheusPort, "prometheus");
      if (c.canary.enabled) claim(d.canaryPort, "canary");
      if (backupOn && c.monitoring.enabled) claim(d.pushgatewayPort, "pushgateway");
      const report = (messages: string[], path: string[]) => {
        for (const message of messages.slice(0, MAX_LISTED)) ctx.addIssue({ code: "custom", path, message });
        if (messages.length > MAX_LISTED) ctx.addIssue({ code: "custom", path, message: `... and ${messages.length - MAX_LISTED} more like these` });
      };
      report(high, ["docker", "hostPortBase"]);
      report(collisions, ["docker"]);
      // Static node addresses are .11 to .127; .128/25 is left to containers without a fixed address.
      if (n > 117) ctx.addIssue({ code: "custom", path: ["masters"], message: `gives ${n} nodes; the docker network holds at most 117 (masters x (1 + replicasPerMaster))` });
    }
    if (typeof c.backup === "object" && typeof c.restore === "object") {
      for (const [path, message] of backupProblems(c.platform, c.backup, c.restore)) ctx.addIssue({ code: "custom", path, message });
    }
    if (c.platform === "kubernetes") {
      // The API server rejects requests above limits; say so before anything is deployed.
      const req = parseKubernetesQuantity(c.kubernetes.resources.requests.memory);
      const lim = parseKubernetesQuantity(c.kubernetes.resources.limits.memory);
      if (req !== undefined && lim !== undefined && req > lim) {
        ctx.addIssue({ code: "custom", path: ["kubernetes", "resources", "requests", "memory"], message: `is ${c.kubernetes.resources.requests.memory}, more than limits.memory ${c.kubernetes.resources.limits.memory}; Kubernetes rejects that` });
      }
    }
    if (typeof c.kubernetes.externalAccess === "object" && typeof c.tls === "object") {
      const nodeCount = c.masters * (1 + c.replicasPerMaster);
      const tlsEnabled = c.tls.enabled ?? c.platform === "kubernetes";
      for (const [path, message] of externalAccessProblems(c.kubernetes.externalAccess, { platform: c.platform, nodeCount, tlsEnabled, preferredEndpointType: c.kubernetes.preferredEndpointType })) {
        ctx.addIssue({ code: "custom", path, message });
      }
    }
    if (c.platform === "kubernetes" && maxmemoryBytes) {
      const limit = parseKubernetesQuantity(c.kubernetes.resources.limits.memory);
      if (limit === undefined) {
        ctx.addIssue({ code: "custom", path: ["kubernetes", "resources", "limits", "memory"], message: `must be a Kubernetes quantity like 1Gi, got ${JSON.stringify(c.kubernetes.resources.limits.memory)}` });
      } else if (limit < maxmemoryBytes * 1.25) {
        // Redis needs headroom over maxmemory (buffers, fork for AOF rewrite); below that the kubelet OOM-kills it.
        ctx.addIssue({ code: "custom", path: ["kubernetes", "resources", "limits", "memory"], message: `is ${c.kubernetes.resources.limits.memory}, lower than maxmemory ${c.maxmemory} + 25% headroom; raise the limit or lower maxmemory` });
      }
    }
  });

export type StackConfig = z.infer<typeof stackConfigSchema>;

/** The validated, defaulted stack config that the rest of the program consumes. */
export interface ClusterSpec extends Omit<StackConfig, "password" | "enableDebugCommand" | "tls" | "acl" | "backup" | "restore"> {
  /** backup without its password and credentials. */
  backup: BackupSpec;
  /** restore.snapshot set: what to restore after the bootstrap, from where (no secret); absent otherwise. */
  restore?: RestoreSpec;
  /** acl with its platform default applied, without any password. */
  acl: AclSpec;
  /** tls with its platform default applied (enabled: on for kubernetes, off for docker). */
  tls: TlsSpec;
  /** enable-debug-command with its platform default applied. */
  enableDebugCommand: "no" | "local" | "yes";
  /** Name of the cluster (prefix of every resource). */
  name: string;
  maxmemoryBytes: number;
  /** smoke.failover with its platform default applied. */
  smokeFailover: "none" | "manual" | "kill";
  /** True when a password was given; the value itself never travels in the spec. */
  passwordProvided: boolean;
}

export class ConfigError extends Error {
  constructor(readonly problems: string[]) {
    super(`Invalid stack config (${problems.length} problem${problems.length === 1 ? "" : "s"}):\n` + problems.map((p) => `  - ${p}`).join("\n"));
    this.name = "ConfigError";
  }
}

const show = (v: unknown) => (typeof v === "string" ? JSON.stringify(v) : v === undefined ? "nothing" : JSON.stringify(v));

function closest(key: string, candidates: string[]): string | undefined {
  // The nearest known key by edit distance (case-insensitive), to suggest the intended key for a typo.
  const best = candidates.map((c) => [c, distance(key.toLowerCase(), c.toLowerCase())] as const).sort((x, y) => x[1] - y[1])[0];
  return best && best[1] <= Math.max(2, Math.floor(key.length / 3)) ? best[0] : undefined;
}

function shapeKeys(schema: z.ZodType, path: PropertyKey[]): string[] {
  let s: any = schema;
  for (const p of path) {
    while (s?.unwrap && !s.shape) s = s.unwrap();
    s = s?.shape?.[p as string];
  }
  while (s?.unwrap && !s.shape) s = s.unwrap();
  return s?.shape ? Object.keys(s.shape) : [];
}

function describeIssue(issue: z.core.$ZodIssue, root: z.ZodType): string[] {
  const key = `${PROJECT}:${issue.path.map(String).join(".")}`;
  // Never echo a secret; objects (cross-field rules) are not worth echoing either.
  const raw = (issue as { input?: unknown }).input;
  // A refused repository string may hold credentials (user:password@): never echoed either.
  const secretPath = issue.path[0] === "password" || issue.path.includes("password") || issue.path.includes("credentials") || issue.path.includes("repository") ||
    (issue.path[0] === "acl" && issue.path[1] === "passwords");
  const input = secretPath || (typeof raw === "object" && raw !== null) ? undefined : raw;
  switch (issue.code) {
    case "too_small":
      return [`${key} must be >= ${issue.minimum}, got ${show(input)}`];
    case "too_big":
      return [`${key} must be <= ${issue.maximum}, got ${show(input)}`];
    case "invalid_type":
      return [`${key} must be ${issue.expected === "int" ? "an integer" : `a ${issue.expected}`}${input === undefined ? "" : `, got ${show(input)}`}`];
    case "invalid_value":
      return [`${key} must be one of ${issue.values.map((v) => JSON.stringify(v)).join(", ")}, got ${show(input)}`];
    case "unrecognized_keys":
      return issue.keys.map((k) => {
        const where = [...issue.path.map(String), k].join(".");
        const hint = closest(k, shapeKeys(root, issue.path));
        return `${PROJECT}:${where} is not a known setting${hint ? ` — did you mean ${[...issue.path.map(String), hint].join(".")}?` : ""}; remove it with \`pulumi config rm ${PROJECT}:${where}\``;
      });
    case "invalid_format":
      return [`${key} ${issue.message}${input !== undefined ? `, got ${show(input)}` : ""}`];
    default:
      return [`${key} ${issue.message}${input !== undefined ? `, got ${show(input)}` : ""}`];
  }
}

/**
 * Validates raw stack config (keys without the `redis-cluster:` prefix, values already decoded) and returns the spec.
 * Pure: no Pulumi calls. Throws one ConfigError listing every problem.
 */
export function validateConfig(raw: Record<string, unknown>, opts: { name?: string } = {}): ClusterSpec {
  const r = stackConfigSchema.safeParse(raw, { reportInput: true });
  if (!r.success) {
    throw new ConfigError(r.error.issues.flatMap((i) => describeIssue(i, stackConfigSchema)));
  }
  const { password, backup, restore, ...c } = r.data;
  return {
    ...c,
    ...backupSpecs(backup, restore),
    name: opts.name ?? PROJECT,
    maxmemoryBytes: parseRedisMemory(c.maxmemory) ?? 0,
    smokeFailover: c.smoke.failover ?? (c.platform === "docker" ? "kill" : "manual"),
    enableDebugCommand: c.enableDebugCommand ?? (c.platform === "docker" ? "yes" : "no"),
    tls: { ...c.tls, enabled: c.tls.enabled ?? c.platform === "kubernetes" },
    acl: aclSpec(c.acl, c.platform),
    passwordProvided: password !== undefined,
  };
}

/** One row per stack config key (nested keys dotted), for docs and Pulumi.yaml. */
export function configReference(): { key: string; type: string; default: string; description: string }[] {
  const rows: { key: string; type: string; default: string; description: string }[] = [];
  const walk = (shape: Record<string, z.ZodType>, prefix: string) => {
    for (const [k, t] of Object.entries(shape)) {
      let s: any = t;
      let def: unknown;
      const description = (t as any).description ?? "";
      while (s.unwrap && !s.shape && !s.options) {
        if (s.def?.type === "default") def = typeof s.def.defaultValue === "function" ? s.def.defaultValue() : s.def.defaultValue;
        s = s.unwrap();
      }
      const key = prefix + k;
      if (s.shape) {
        walk(s.shape, key + ".");
        continue;
      }
      const type = s.options ? s.options.map((o: string) => JSON.stringify(o)).join(" \\| ")
        : s.def?.type === "number" ? (s.def?.format ? "integer" : "number") : s.def?.type ?? "unknown";
      rows.push({ key, type, default: def === undefined ? "—" : JSON.stringify(def), description });
    }
  };
  walk((stackConfigSchema as any).def?.in?.shape ?? (stackConfigSchema as any).shape, "");
  return rows;
}
