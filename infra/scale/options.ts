// What a scale run is asked to do, and how it reaches the cluster.
import type { TlsClientOptions } from "../../smoke/types";

export type Phase = "in" | "out" | "all";

export interface ScaleOptions {
  /** Planned nodes ("host:port" as announced or resolvable), ordinal order. */
  nodes: string[];
  /** Display names of the planned nodes (default: the addresses). */
  names?: string[];
  masters: number;
  replicasPerMaster: number;
  /** in: only what must happen before nodes are removed; out: only what needs the new nodes; all: both. */
  phase?: Phase;
  password?: string;
  username?: string;
  /** PEM text (smoke/tls.ts reads it from REDIS_TLS_*_FILE or REDIS_TLS_*_PEM; REDIS_TLS_VERIFY_HOSTNAME=no: chain only). */
  tls?: TlsClientOptions;
  /** Announced "ip:port" -> where this process reaches it (Docker host). */
  natMap?: Record<string, { host: string; port: number }>;
  /** Keys per MIGRATE (default 100). */
  batchKeys?: number;
  /** Slots open (importing/migrating) at once (default 32). */
  slotGroup?: number;
  /** Pause after each MIGRATE batch (default 0). */
  pauseMs?: number;
  /** cluster-node-timeout of the cluster (bounds failover waits). Default 5000. */
  nodeTimeoutMs?: number;
  /** How long an unhealthy-looking cluster may take to settle before the run refuses (default 15 s). */
  settleMs?: number;
  /** Bound of the whole run (default 30 min). */
  timeoutMs?: number;
  /** Print the plan and change nothing. */
  dryRun?: boolean;
  log?: (line: string) => void;
  /** Test hook: called after each slot is moved (e.g. to kill the run mid-migration). */
  onSlotMoved?: (movedSoFar: number) => void | Promise<void>;
}
