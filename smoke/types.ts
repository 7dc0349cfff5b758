// Shared types of the smoke test: options, check results and the report.

export const FAILOVER_MODES = ["none", "manual", "kill"] as const;
export type FailoverMode = (typeof FAILOVER_MODES)[number];
export const CHECK_NAMES = ["connect", "slots", "distribution", "workloads", "replication", "failover", "auth", "old-passwords", "benchmark", "canary"] as const;
export type CheckName = (typeof CHECK_NAMES)[number];

/** TLS of every connection to the cluster (PEM text, never paths: the library reads no files). */
export interface TlsClientOptions {
  /** CA certificate(s) the nodes' certificates must chain to. */
  ca: string;
  /** Client certificate and key, needed when the nodes require one (tls-auth-clients yes). */
  cert?: string;
  key?: string;
  /**
   * false: verify the chain only, not the name. For redirects to pod IPs (Kubernetes, preferredEndpointType ip): the
   * certificates cannot name pod IPs, and a certificate from the cluster's own private CA already identifies one of its nodes.
   */
  verifyHostname?: boolean;
}

export interface NatMapEntries {
  [announced: string]: { host: string; port: number };
}

export interface BenchOptions {
  /** Commands per phase (SET, then GET); 0 disables the benchmark. */
  ops: number;
  /** Requests in flight at once. */
  concurrency: number;
  /** Commands per request (1 = no pipelining). */
  pipeline: number;
  /** Value size in bytes (redis-benchmark's -d, default 3). */
  valueSize: number;
  /** TCP connections per master; the requests in flight are spread over them. */
  connections: number;
  /** Open-loop GET phase at this many commands per second (latency from the intended send time); 0 skips it. */
  rate: number;
}

export interface SmokeOptions {
  /** Seed addresses "host:port" reachable from where the smoke test runs. */
  nodes: string[];
  /** Redis password (from an environment variable; never from argv). */
  password?: string;
  /** ACL user the password belongs to (e.g. `smoke`); absent: the `default` user. */
  username?: string;
  /** Announced "ip:port" -> reachable host/port (Docker host clients). Seeds add their own entries automatically. */
  natMap?: NatMapEntries;
  /** TLS on every connection (tls.enabled); plaintext when absent. */
  tls?: TlsClientOptions;
  /** Passwords a rotation retired, by user (secret; REDIS_RETIRED_PASSWORDS): each must be refused by every node. */
  retiredPasswords?: Record<string, string[]>;
  expectMasters?: number;
  expectReplicas?: number;
  failover: FailoverMode;
  /** After a failover, hand mastership back so the layout is as before (waits > 2x cluster-node-timeout first). */
  failBack: boolean;
  /** "host:port" of the master to fail over (default: the master owning slot 0). */
  failoverTarget?: string;
  /** Run the workloads check (the tutorial's application patterns). */
  workloads: boolean;
  /** Keys written by the distribution check (replication/failover use up to 1000 of them). */
  keys: number;
  /** Bound of the whole run. */
  timeoutMs: number;
  /** cluster-node-timeout; read with CONFIG GET when absent. */
  nodeTimeoutMs?: number;
  /** How long the kill failover freezes the master (default 2x node timeout + 4 s). */
  freezeMs?: number;
  /** Per-node connect timeout. */
  connectTimeoutMs: number;
  bench: BenchOptions;
  /** The continuous canary's base URL (GET /view): the canary check reports what it saw; absent: not checked. */
  canaryUrl?: string;
  /** The canary check also reports this long before the run (the rollout that preceded it). */
  canaryLookbackMs: number;
}

export const DEFAULT_OPTIONS: Omit<SmokeOptions, "nodes"> = {
  failover: "none",
  failBack: true,
  workloads: true,
  keys: 10_000,
  timeoutMs: 300_000,
  connectTimeoutMs: 3_000,
  canaryLookbackMs: 600_000,
  bench: { ops: 20_000, concurrency: 50, pipeline: 1, valueSize: 3, connections: 2, rate: 0 },
};

export type Measurements = Record<string, number | string | boolean>;

export type CheckStatus = "passed" | "failed" | "not-run" | "not-applicable";

export interface CheckResult {
  name: CheckName;
  /** True when passed or not applicable. */
  ok: boolean;
  status: CheckStatus;
  duration_ms: number;
  /** One-line summary. */
  details: string;
  /** Every problem found (empty when passed). */
  problems: string[];
  measurements: Measurements;
}

export interface SmokeReport {
  ok: boolean;
  /** 0 passed, 1 a check failed, 2 usage or connection problem. */
  exit_code: 0 | 1 | 2;
  started_at: string;
  duration_ms: number;
  target: { nodes: string[]; password: "set" | "none"; failover: FailoverMode };
  /** Set when the run could not start (usage/connection). */
  error?: string;
  checks: CheckResult[];
}

/** A check's own verdict: thrown to fail it with every problem named. */
export class CheckFailure extends Error {
  constructor(readonly problems: string[], readonly measurements: Measurements = {}, summary?: string) {
    super(summary ?? problems[0] ?? "check failed");
    this.name = "CheckFailure";
  }
}

/** Usage or connection problem: exit code 2. */
export class SmokeUsageError extends Error {
  constructor(message: string) {
    super(message);
    this.name = "SmokeUsageError";
  }
}
