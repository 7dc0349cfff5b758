import { createHash } from "node:crypto";
import type { ClusterSpec } from "../config/schema";
import { tlsEnv, type TlsFilePaths } from "./tls";

/**
 * Redis ACL users of a cluster (issue #12): who may do what, as ACL rules. Pure: passwords arrive as arguments and
 * leave only as SHA-256 hashes (`#<hex>`), so the rendered ACL file reveals no password (it is still kept in a Secret:
 * a hash of a weak configured password can be guessed offline).
 */
export interface AclUser {
  name: string;
  /** Whether the user may log in at all (`default` is off in the prod profile). */
  enabled: boolean;
  /** Rules after the password: key and channel patterns, then command rules, in order. */
  rules: string[];
  /** Why the user exists (docs/security.md, error messages). */
  purpose: string;
}

/** Built-in users whose passwords the platform delivers to its own consumers. */
export const SERVICE_USERS = ["admin", "replica", "exporter", "smoke"] as const;
export type ServiceUser = (typeof SERVICE_USERS)[number];

// Only what replication needs: the replica authenticates as `masteruser`, then REPLCONF/PSYNC and PINGs.
const REPLICA_RULES = ["resetkeys", "resetchannels", "-@all", "+psync", "+replconf", "+ping"];

/**
 * What redis_exporter calls (measured against 1.45 with INFO commandstats and ACL LOG; the later upstream versions
 * add LATENCY HISTOGRAM). CONFIG GET is left out on purpose: `CONFIG GET *` returns masterauth, i.e. the replica
 * user's password, which reads the whole dataset through PSYNC. The exporter is started with
 * REDIS_EXPORTER_CONFIG_COMMAND=- so it does not try (it then lacks only redis_config_* metrics, which no rule reads).
 */
export const EXPORTER_RULES = [
  "resetkeys", "resetchannels", "-@all",
  "+ping", "+info", "+cluster|info", "+client|setname", "+slowlog|get", "+slowlog|len", "+latency|latest", "+latency|histogram",
];

/**
 * What every cluster client needs whatever its rules: the slot map (ioredis asks CLUSTER SLOTS, newer clients CLUSTER
 * SHARDS or NODES), ASKING during a slot migration, READONLY/READWRITE for replica reads, PING. Without these a
 * cluster client fails before its first command (seen: ioredis with only +@read +@write).
 */
export const CLUSTER_CLIENT_RULES = [
  "+ping", "+asking", "+readonly", "+readwrite", "+cluster|slots", "+cluster|shards", "+cluster|nodes",
  // ioredis's Cluster ready check asks CLUSTER INFO and names its connections (ACL LOG of a client without them).
  "+cluster|info", "+client|setname",
];

/** Key prefix of every smoke-test key (smoke/data.ts, smoke/checks/benchmark.ts, workloads). */
export const SMOKE_KEY_PATTERN = "smoke:*";

/** The smoke test: its own keys, data commands, the cluster introspection it checks and a manual failover. */
export function smokeRules(enableDebugCommand: ClusterSpec["enableDebugCommand"]): string[] {
  return [
    `~${SMOKE_KEY_PATTERN}`, "resetchannels", "-@all",
    "+@read", "+@write", "+@transaction", "+@connection", "-@dangerous",
    // Named after the -@dangerous sweep: each is read-only introspection, or the failover check itself.
    ...CLUSTER_CLIENT_RULES, "+info", "+wait", "+cluster|keyslot", "+cluster|myid", "+cluster|failover",
    // The kill failover freezes a master with DEBUG SLEEP; never any other DEBUG subcommand.
    ...(enableDebugCommand === "no" ? [] : ["+debug|sleep"]),
  ];
}

/** Key prefix of every canary key (smoke/canary/). */
export const CANARY_KEY_PATTERN = "canary:*";

/** The canary: its own keys, SET + WAIT and GET (on masters and, READONLY, replicas), and the cluster-client commands. */
export const CANARY_RULES = [`~${CANARY_KEY_PATTERN}`, "resetchannels", "-@all", "+set", "+get", "+wait", ...CLUSTER_CLIENT_RULES];

/**
 * What a backup run does (infra/backup: survey, preflight, cut): read the topology and INFO, DBSIZE at the cut, pause
 * and resume writes, and take each master's snapshot over a replication connection (REPLCONF rdb-only, PSYNC: the
 * RDB holds every key, so the user reads the whole dataset whatever its key patterns), and GET of the restore's
 * marker (a half-restored cluster is refused: infra/backup/marker.ts).
 */
export const BACKUP_RULES = ["+info", "+dbsize", "+client|pause", "+client|unpause", "+replconf", "+psync", "+get"];

/**
 * What a restore adds (infra/backup/restore.ts): RESTORE of every key (ABSTTL REPLACE), the restore marker (SET, GET,
 * DEL of MARKER_KEY) and the per-slot key count of the verify.
 */
export const RESTORE_RULES = ["+restore", "+set", "+get", "+del", "+info", "+dbsize", "+cluster|countkeysinslot"];

/** The `backup` user's rules: every key (a backup reads them all, a restore writes them all), only the commands of the runs it serves. */
export function backupUserRules(o: { backup: boolean; restore: boolean }): string[] {
  const commands = [...new Set([...(o.backup ? BACKUP_RULES : []), ...(o.restore ? RESTORE_RULES : [])])];
  return ["~*", "resetchannels", "-@all", ...CLUSTER_CLIENT_RULES, ...commands];
}

type AclUsersSpec = Pick<ClusterSpec, "acl" | "enableDebugCommand"> & { canary?: { enabled: boolean }; backup?: { enabled: boolean }; restore?: unknown };

/**
 * Every user of the cluster, `default` first. Application users come from stack config; `canary` with canary.enabled;
 * `backup` with backup.enabled or restore.snapshot.
 */
export function aclUsers(spec: AclUsersSpec): AclUser[] {
  const backup = !!spec.backup?.enabled;
  const restore = spec.restore !== undefined;
  const all = ["~*", "&*", "+@all"];
  return [
    spec.acl.defaultUser === "admin"
      ? { name: "default", enabled: true, rules: all, purpose: "clients that send only a password (dev): same password and rights as admin" }
      : { name: "default", enabled: false, rules: ["resetkeys", "resetchannels", "-@all"], purpose: "off: every client must name its user" },
    { name: "admin", enabled: true, rules: all, purpose: "bootstrap, scale, preStop hand-over, probes, rotation, operators" },
    { name: "replica", enabled: true, rules: REPLICA_RULES, purpose: "masteruser of every replica (replication only)" },
    { name: "exporter", enabled: true, rules: EXPORTER_RULES, purpose: "redis_exporter (INFO, CLUSTER INFO, SLOWLOG, LATENCY)" },
    { name: "smoke", enabled: true, rules: smokeRules(spec.enableDebugCommand), purpose: "the post-deploy smoke test (keys smoke:*)" },
    ...(spec.canary?.enabled ? [{ name: "canary", enabled: true, rules: CANARY_RULES, purpose: "the continuous canary (keys canary:*: SET, WAIT, GET)" }] : []),
    ...(backup || restore ? [{ name: "backup", enabled: true, rules: backupUserRules({ backup, restore }), purpose: "backup runs (pause, PSYNC snapshot) and the restore of a new stack (RESTORE)" }] : []),
    ...spec.acl.users.map((u) => ({
      name: u.name,
      enabled: true,
      rules: [...u.keys.map((k) => `~${k}`), "resetchannels", ...u.channels.map((c) => `&${c}`), "-@all", ...u.commands, ...CLUSTER_CLIENT_RULES],
      purpose: "application user (stack config acl.users); cluster-client commands always added",
    })),
  ];
}

/** Names of the users that need a password (every enabled one except `default`, which borrows admin's). */
export function passwordUsers(spec: AclUsersSpec): string[] {
  return aclUsers(spec).filter((u) => u.name !== "default").map((u) => u.name);
}

/** The `#<sha256 hex>` form Redis stores and accepts in ACL rules. */
export function passwordHash(password: string): string {
  return `#${createHash("sha256").update(password, "utf8").digest("hex")}`;
}

/**
 * The ACL file: one `user` line per user with the hashes of its passwords (`passwords[name]`; several during a
 * rotation). `default` with defaultUser admin takes admin's passwords. Throws when an enabled user has none.
 */
export function renderAclFile(users: AclUser[], passwords: Record<string, string[]>): string {
  // No header comment: Redis refuses any ACL-file line that does not start with `user`.
  const lines: string[] = [];
  for (const u of users) {
    const pws = u.name === "default" ? (u.enabled ? passwords.admin : []) : passwords[u.name];
    if (u.enabled && (!pws || pws.length === 0)) throw new Error(`renderAclFile: user ${u.name} has no password`);
    lines.push(["user", u.name, u.enabled ? "on" : "off", ...(pws ?? []).map(passwordHash), ...u.rules].join(" "));
  }
  return lines.join("\n") + "\n";
}

/**
 * redis_exporter's settings for the `exporter` user (env, never argv; 1.45 and upstream 1.67 read the same names).
 * The password goes beside it as REDIS_PASSWORD (a secret). CONFIG GET is not granted, so the exporter must not call it.
 */
export const EXPORTER_ACL_ENV = { REDIS_USER: "exporter", REDIS_EXPORTER_CONFIG_COMMAND: "-" } as const;

/** Metric names an alert rule expression reads (redis_*), for checking an exporter's output against the rules. */
export function metricsRead(expressions: string[]): string[] {
  return [...new Set(expressions.flatMap((e) => e.match(/\bredis_[a-z_]+/g) ?? []))].sort();
}

/** Where a node, Job or container finds the ACL files (a Secret volume / uploads); never a ConfigMap. */
export const ACL_PATHS = {
  dir: "/etc/redis-cluster-acl",
  aclFile: "/etc/redis-cluster-acl/users.acl",
  masterauth: "/etc/redis-cluster-acl/replica-password",
  /** The admin password the nodes had before this update (rotation step only; absent on the first deploy). */
  previousDir: "/etc/redis-cluster-acl-previous",
  previousAdmin: "/etc/redis-cluster-acl-previous/password",
} as const;

export interface RotateEnvArgs {
  /** REDIS_NODES of the bootstrap ("host:port host:port ..."). */
  nodes: string;
  /** admin's current password file, and where the last rotation left the previous one. */
  passwordFile: string;
  previousPasswordFile: string;
  /** The client certificate's files (tls.enabled), else undefined. */
  tls?: TlsFilePaths;
}

/**
 * Environment of the rotation step (infra/scripts/rotate.sh add|remove), one definition for every platform (the
 * Docker container and the Kubernetes Job): it runs as admin, applies the ACL file, and sets the replica user's
 * masteruser/masterauth live. Files only: no password in it.
 */
export function rotateEnv(a: RotateEnvArgs): Record<string, string> {
  return {
    REDIS_NODES: a.nodes,
    ROTATE_ACL_FILE: ACL_PATHS.aclFile,
    REDIS_USER: "admin",
    REDIS_PASSWORD_FILE: a.passwordFile,
    REDIS_PREVIOUS_PASSWORD_FILE: a.previousPasswordFile,
    REDIS_MASTERUSER: "replica",
    REDIS_MASTERAUTH_FILE: ACL_PATHS.masterauth,
    ...(a.tls ? tlsEnv(a.tls) : {}),
  };
}
