// The canary's Prometheus metrics: the names, labels and buckets of the metric contract of issue #24, which the SLO
// rules (monitoring/) are written against. Each canary has its own registry (several can live in one process: tests).
import { collectDefaultMetrics, Counter, Gauge, Histogram, Registry } from "prom-client";
import { CANARY_LATENCY_BUCKETS } from "../../monitoring/canaryBuckets";

export const CANARY_OPS = ["set", "get", "replica_read"] as const;
export type CanaryOp = (typeof CANARY_OPS)[number];
export const CANARY_RESULTS = ["ok", "error", "timeout"] as const;
export type CanaryResult = (typeof CANARY_RESULTS)[number];

/** Request duration buckets in seconds; the SLO latency threshold must be one of them. */
export const CANARY_DURATION_BUCKETS: number[] = [...CANARY_LATENCY_BUCKETS];

export const CANARY_METRIC_NAMES = {
  requests: "redis_canary_requests_total",
  duration: "redis_canary_request_duration_seconds",
  unreplicated: "redis_canary_unreplicated_writes_total",
  lost: "redis_canary_acked_writes_lost_total",
  verified: "redis_canary_acked_writes_verified_total",
  replicaLag: "redis_canary_replica_lag_seconds",
  topologyChanges: "redis_canary_topology_changes_total",
  shards: "redis_canary_shards",
} as const;

export class CanaryMetrics {
  readonly registry = new Registry();
  readonly requests = new Counter({
    name: CANARY_METRIC_NAMES.requests,
    help: "Canary requests by shard (masters ordered by lowest slot), op (set = SET + WAIT 1, get, replica_read) and result",
    labelNames: ["shard", "op", "result"] as const,
    registers: [this.registry],
  });
  readonly duration = new Histogram({
    name: CANARY_METRIC_NAMES.duration,
    help: "Canary request duration in seconds, every result included",
    labelNames: ["shard", "op"] as const,
    buckets: CANARY_DURATION_BUCKETS,
    registers: [this.registry],
  });
  readonly unreplicated = this.perShard(Counter, CANARY_METRIC_NAMES.unreplicated, "Writes the master accepted but WAIT 1 saw no replica acknowledge in time");
  readonly lost = this.perShard(Counter, CANARY_METRIC_NAMES.lost, "Acknowledged writes (SET + WAIT acked by >= 1 replica) re-read later and found missing or changed");
  readonly verified = this.perShard(Counter, CANARY_METRIC_NAMES.verified, "Acknowledged writes re-read later and found intact (how many writes the lost count covers)");
  readonly replicaLag = this.perShard(Gauge, CANARY_METRIC_NAMES.replicaLag, "Seconds from the master's acknowledgement of the last acknowledged write until a replica returned it");
  readonly topologyChanges = new Counter({
    name: CANARY_METRIC_NAMES.topologyChanges,
    help: "Changes of the masters or their slots seen by the canary (failovers, scaling)",
    registers: [this.registry],
  });
  readonly shards = new Gauge({ name: CANARY_METRIC_NAMES.shards, help: "Masters owning slots, as the canary sees them", registers: [this.registry] });

  private perShard<M>(Kind: new (c: { name: string; help: string; labelNames: readonly ["shard"]; registers: Registry[] }) => M, name: string, help: string): M {
    return new Kind({ name, help, labelNames: ["shard"] as const, registers: [this.registry] });
  }

  constructor() {
    collectDefaultMetrics({ register: this.registry });
  }

  /** Every series of a shard exists from its first round on (at 0), so rate() and absent-checks see it. */
  initShard(shard: string): void {
    for (const op of CANARY_OPS) {
      for (const result of CANARY_RESULTS) this.requests.labels(shard, op, result).inc(0);
      this.duration.zero({ shard, op });
    }
    for (const c of [this.unreplicated, this.lost, this.verified]) c.labels(shard).inc(0);
  }

  /** A shard index the cluster no longer has: its lag gauge would otherwise keep reporting the last value. */
  dropShard(shard: string): void {
    this.replicaLag.remove(shard);
  }
}
